package indexfetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flakeresolve/flakeresolve/internal/service"
)

// publisher serves one index file from disk as a snapshot store does:
// an ETag of its content, 304 to a matching If-None-Match, and headers
// the test chooses on top.
type publisher struct {
	path string
	// extra adds headers; when it returns true it has answered itself.
	extra   func(w http.ResponseWriter, data []byte) bool
	gets    atomic.Int32
	matched atomic.Int32
}

func (p *publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.gets.Add(1)
	if r.URL.Path != "/index.json" {
		http.NotFound(w, r)
		return
	}
	data, err := os.ReadFile(p.path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	if r.Header.Get("If-None-Match") != "" {
		p.matched.Add(1)
	}
	if p.extra != nil && p.extra(w, data) {
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// published writes the test index to a file and serves it.
func published(t *testing.T) (*publisher, string, []byte) {
	t.Helper()
	data, err := os.ReadFile("../../index/testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{path: filepath.Join(t.TempDir(), "index.json")}
	if err := os.WriteFile(p.path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL + "/index.json", data
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestFetchETag: the first fetch takes the body, a poll of an unchanged
// file is answered 304 and keeps it, and a file changed on disk is
// fetched anew.
func TestFetchETag(t *testing.T) {
	p, url, data := published(t)
	src := Sources([]string{url}, http.DefaultClient)[0]
	got, err := src.Read(ctx(t))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("first fetch: %d bytes, %v; want the file's %d", len(got), err, len(data))
	}
	got, err = src.Read(ctx(t))
	if err != nil || !bytes.Equal(got, data) || p.matched.Load() != 1 {
		t.Fatalf("second fetch: %d bytes, %v, %d conditional requests; want the same bytes after one If-None-Match", len(got), err, p.matched.Load())
	}
	changed := bytes.Replace(data, []byte("Hyprland utilities"), []byte("Hyprland utilities, changed"), 1)
	if err := os.WriteFile(p.path, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = src.Read(ctx(t))
	if err != nil || !bytes.Equal(got, changed) {
		t.Fatalf("after the change: %q, %v; want the changed file", got, err)
	}
	snap, err := service.ParseLayers([]service.Layer{{Origin: url, Data: got}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(changed)
	if snap.Digest != hex.EncodeToString(sum[:]) {
		t.Errorf("digest of one layer %s; want the file's sha256sum %x", snap.Digest, sum)
	}
}

// TestFetchTruncated: a body that ends before its Content-Length is an
// error, and the bytes held before it stay the source's.
func TestFetchTruncated(t *testing.T) {
	p, url, data := published(t)
	src := Sources([]string{url}, http.DefaultClient)[0]
	if _, err := src.Read(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.path, append(data, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	p.extra = func(w http.ResponseWriter, data []byte) bool {
		// Promise the whole file, send half, and drop the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:len(data)/2])
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}
	_, err := src.Read(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("truncated body: %v; want an error saying it was cut short", err)
	}
	if !strings.Contains(err.Error(), url) {
		t.Errorf("error %q does not name the URL", err)
	}
	if !bytes.Equal(src.held, data) {
		t.Errorf("the bytes held changed after a failed fetch")
	}
}

// TestFetchDigests: each header form of a SHA-256 is checked against the
// body; a right one passes, a wrong one fails the fetch naming the header.
func TestFetchDigests(t *testing.T) {
	headers := map[string]func(sum []byte) string{
		"Repr-Digest": func(sum []byte) string {
			return "sha-512=:AAAA:, sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
		},
		"Content-Digest":    func(sum []byte) string { return "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":" },
		"Digest":            func(sum []byte) string { return "SHA-256=" + base64.StdEncoding.EncodeToString(sum) },
		"X-Checksum-Sha256": func(sum []byte) string { return hex.EncodeToString(sum) },
	}
	for name, value := range headers {
		t.Run(name, func(t *testing.T) {
			p, url, data := published(t)
			p.extra = func(w http.ResponseWriter, data []byte) bool {
				sum := sha256.Sum256(data)
				w.Header().Set(name, value(sum[:]))
				return false
			}
			got, err := Sources([]string{url}, http.DefaultClient)[0].Read(ctx(t))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("right %s: %v", name, err)
			}
			p.extra = func(w http.ResponseWriter, data []byte) bool {
				sum := sha256.Sum256(append(data, 'x'))
				w.Header().Set(name, value(sum[:]))
				return false
			}
			_, err = Sources([]string{url}, http.DefaultClient)[0].Read(ctx(t))
			if err == nil || !strings.Contains(err.Error(), "header "+name) {
				t.Fatalf("wrong %s: %v; want an error naming the header", name, err)
			}
		})
	}
}

// TestReadAllAllOrNothing: one failing layer fails the read, naming it,
// with no layers returned.
func TestReadAllAllOrNothing(t *testing.T) {
	_, url, _ := published(t)
	layers, err := ReadAll(ctx(t), Sources([]string{url, url + ".missing"}, http.DefaultClient))
	if err == nil || layers != nil || !strings.Contains(err.Error(), "index.json.missing: answered 404") {
		t.Fatalf("ReadAll with a missing layer: %d layers, %v; want none and the 404 named", len(layers), err)
	}
}
