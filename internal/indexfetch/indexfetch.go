// Package indexfetch reads the index files a server serves, from disk or
// from HTTP(S) URLs, so that replicas can follow one published snapshot.
//
// A URL is fetched with the validator of its last answer (If-None-Match),
// so polling an unchanged snapshot costs a 304 and keeps the bytes held.
// Bytes are handed on only when they are known whole: a body shorter or
// longer than its Content-Length, or one whose SHA-256 differs from a
// digest the response declares (Repr-Digest, Content-Digest, Digest or
// X-Checksum-Sha256), is an error, and the caller keeps what it serves.
// Parsing and the index's own checks are the service's (ParseLayers).
package indexfetch

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/internal/service"
)

// IsURL says whether an --index names a URL rather than a file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// Source is one index layer's origin, a file or a URL, with what its last
// fetch answered. A Source is used by one goroutine at a time.
type Source struct {
	Origin string
	client *http.Client
	etag   string
	held   []byte
}

// Sources are the layers named by --index values, in order.
func Sources(origins []string, client *http.Client) []*Source {
	out := make([]*Source, len(origins))
	for i, o := range origins {
		out[i] = &Source{Origin: o, client: client}
	}
	return out
}

// ReadAll reads every source, all or nothing: the layers in order, or
// every source's error.
func ReadAll(ctx context.Context, sources []*Source) ([]service.Layer, error) {
	layers := make([]service.Layer, 0, len(sources))
	var errs []error
	for _, s := range sources {
		data, err := s.Read(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		layers = append(layers, service.Layer{Origin: s.Origin, Data: data})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return layers, nil
}

// Read returns the source's bytes: a file's, bounded as every index is,
// or a URL's, the ones held when the server answers 304 Not Modified.
func (s *Source) Read(ctx context.Context) ([]byte, error) {
	if !IsURL(s.Origin) {
		return boundedfile.Read(s.Origin, boundedfile.MaxIndex)
	}
	data, etag, err := s.fetch(ctx)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", s.Origin, err)
	}
	if data != nil {
		s.held, s.etag = data, etag
	}
	return s.held, nil
}

// fetch GETs the URL; nil data (and no error) is 304 Not Modified.
func (s *Source) fetch(ctx context.Context) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Origin, nil)
	if err != nil {
		return nil, "", err
	}
	// The digests a server declares are of the bytes it stores; asking
	// for them unencoded keeps Content-Length and the digest about the
	// bytes read.
	req.Header.Set("Accept-Encoding", "identity")
	if s.etag != "" && s.held != nil {
		req.Header.Set("If-None-Match", s.etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && s.held != nil:
		return nil, "", nil
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("answered %s; expected 200 OK", resp.Status)
	}
	if resp.ContentLength > boundedfile.MaxIndex {
		return nil, "", fmt.Errorf("Content-Length %d is over the %d bytes an index may have", resp.ContentLength, boundedfile.MaxIndex)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, boundedfile.MaxIndex+1))
	if err != nil {
		return nil, "", fmt.Errorf("body cut short after %d bytes: %w", len(data), err)
	}
	if len(data) > boundedfile.MaxIndex {
		return nil, "", fmt.Errorf("body is over the %d bytes an index may have", boundedfile.MaxIndex)
	}
	if resp.ContentLength >= 0 && int64(len(data)) != resp.ContentLength {
		return nil, "", fmt.Errorf("read %d bytes; Content-Length said %d", len(data), resp.ContentLength)
	}
	if err := checkDigests(resp.Header, data); err != nil {
		return nil, "", err
	}
	return data, resp.Header.Get("ETag"), nil
}

// checkDigests compares the body's SHA-256 with every SHA-256 the
// response declares.
func checkDigests(h http.Header, data []byte) error {
	sum := sha256.Sum256(data)
	for _, d := range declared(h) {
		if d.sum != string(sum[:]) {
			return fmt.Errorf("the body's SHA-256 is %x; header %s says %x", sum, d.header, d.sum)
		}
	}
	return nil
}

type digest struct {
	header string
	sum    string // the 32 bytes
}

// declared reads the SHA-256 digests of a response's headers: RFC 9530's
// Repr-Digest and Content-Digest ("sha-256=:BASE64:"), RFC 3230's Digest
// ("SHA-256=BASE64"), and X-Checksum-Sha256 (hex), the one artifact
// stores send. A header that names sha-256 but does not hold 32 bytes is
// declared wrong, never skipped, so a mangled digest fails the fetch.
func declared(h http.Header) []digest {
	var out []digest
	for _, name := range []string{"Repr-Digest", "Content-Digest", "Digest"} {
		for _, v := range h.Values(name) {
			for item := range strings.SplitSeq(v, ",") {
				alg, val, ok := strings.Cut(strings.TrimSpace(item), "=")
				if !ok || !strings.EqualFold(alg, "sha-256") {
					continue
				}
				b, _ := base64.StdEncoding.DecodeString(strings.Trim(val, ":"))
				out = append(out, digest{name, string(b)})
			}
		}
	}
	for _, v := range h.Values("X-Checksum-Sha256") {
		b, _ := hex.DecodeString(strings.TrimSpace(v))
		out = append(out, digest{"X-Checksum-Sha256", string(b)})
	}
	return out
}
