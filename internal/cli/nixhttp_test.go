package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	"github.com/flakeresolve/flakeresolve/internal/server"
)

// published is a git repository of a flake whose versions are published
// as tarballs on a loopback server, at /acme/greeting/VERSION.tar.gz, each
// the git archive of the version's tag, as a forge publishes one.
type published struct {
	repo, server string
	n            int // commits made
}

func publish(t *testing.T) *published {
	t.Helper()
	p := &published{repo: filepath.Join(t.TempDir(), "greeting")}
	if err := os.MkdirAll(p.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	p.git(t, "init", "-q", "-b", "main")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		version, ok := strings.CutPrefix(r.URL.Path, "/acme/greeting/")
		version, ok2 := strings.CutSuffix(version, ".tar.gz")
		if !ok || !ok2 {
			http.NotFound(w, r)
			return
		}
		out, err := p.cmd("archive", "--format=tar.gz", "--prefix=greeting-"+version+"/", "v"+version).Output()
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	p.server = srv.URL
	return p
}

// release commits a flake whose text is its version, and tags it.
func (p *published) release(t *testing.T, version string) {
	t.Helper()
	writeFile(t, filepath.Join(p.repo, "flake.nix"), `{ outputs = _: { text = "hello `+version+`"; }; }`+"\n")
	p.git(t, "add", "-A")
	p.git(t, "commit", "-qm", version)
	p.git(t, "tag", "v"+version)
}

func (p *published) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("git", append([]string{"-C", p.repo}, args...)...)
	date := time.Date(2024, 5, 1+p.n, 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	return cmd
}

func (p *published) git(t *testing.T, args ...string) {
	t.Helper()
	if args[0] == "commit" {
		p.n++
	}
	if out, err := p.cmd(args...).CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// index builds the index of the repository as published.
func (p *published) index(t *testing.T, file string) {
	t.Helper()
	if code, out := runCLI("index", "build", "-o", file, "acme-greeting="+p.repo, "--source", "acme-greeting="+p.server+"/acme/greeting/{version}.tar.gz"); code != 0 {
		t.Fatalf("index build: exit %d\n%s", code, out)
	}
}

type lockNode struct {
	Locked   map[string]any `json:"locked"`
	Original map[string]any `json:"original"`
}

func readLock(t *testing.T, dir string) (map[string]lockNode, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "flake.lock"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Nodes map[string]lockNode `json:"nodes"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return f.Nodes, data
}

// TestRequirementURLsWithNix: a flake.nix input that is a requirement URL
// of flakeresolve serve --http-listen, locked by real Nix against the real
// server, offline in an empty store, with versions published as tarballs
// on loopback:
//
//   - Nix 2.8 ignores the Link header and records the URL it was given,
//     with the narHash of the newest matching version;
//   - Nix 2.26 records the pinned tarball of the Link header, with its rev,
//     revCount and lastModified, and nix flake update moves it when a
//     newer matching version is published (and the server reloads);
//   - the lock flakeresolve lock --min-nix writes for each is accepted by
//     that Nix unchanged (metadata --no-update-lock-file, and nix flake
//     lock leaves it), and for 2.26 it is the very lock Nix wrote.
func TestRequirementURLsWithNix(t *testing.T) {
	judges := nixtest.Judges(t)
	p := publish(t)
	p.release(t, "1.0.0")
	p.release(t, "1.1.0")
	p.release(t, "2.0.0")
	idx := filepath.Join(t.TempDir(), "index.json")
	p.index(t, idx)
	s := startServer(t, "--index", idx, "--http-listen", "127.0.0.1:0")
	httpAddr := regexp.MustCompile(`msg="serving HTTP" addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.logged())[1]
	requirement := "http://" + httpAddr + "/f/acme/greeting/%5E1.0.tar.gz"
	checkDigestHeader(t, requirement, idx)
	root := filepath.Join(t.TempDir(), "root")
	writeFile(t, filepath.Join(root, "flake.nix"), `{
  inputs.greeting.url = "`+requirement+`";
  outputs = { self, greeting }: { value = greeting.text; };
}
`)
	pinned := func(version string) string { return p.server + "/acme/greeting/" + version + ".tar.gz" }

	for _, j := range judges {
		t.Run(j.Name, func(t *testing.T) {
			// Nix locks the input through the server.
			nixDir := copyRoot(t, root, nil)
			if _, stderr, err := j.Offline(t, nixtest.Store(t), "", "flake", "lock", "path:"+nixDir); err != nil {
				t.Fatalf("nix flake lock: %v\n%s", err, stderr)
			}
			nodes, nixLock := readLock(t, nixDir)
			got := nodes["greeting"].Locked
			want := pinned("1.1.0")
			if j.Name == "2.8" {
				want = requirement // 2.8 knows no Link header
			}
			if got["url"] != want || got["narHash"] == nil {
				t.Errorf("Nix %s locked %v, want url %s", j.Name, got, want)
			}
			if j.Name != "2.8" && (got["rev"] == nil || got["revCount"] != float64(2) || got["lastModified"] == nil) {
				t.Errorf("Nix %s locked %v, want the Link header's rev, revCount 2 and lastModified", j.Name, got)
			}

			// flakeresolve locks the same flake for that Nix, and Nix
			// takes the lock as it is.
			ours := copyRoot(t, root, nil)
			if code, out := runCLI("lock", "--index", idx, "--min-nix", j.Version, ours); code != 0 {
				t.Fatalf("flakeresolve lock: exit %d\n%s", code, out)
			}
			ourNodes, ourLock := readLock(t, ours)
			if u := ourNodes["greeting"].Locked["url"]; u != pinned("1.1.0") {
				t.Errorf("flakeresolve locked %v, want the pinned tarball %s", ourNodes["greeting"].Locked, pinned("1.1.0"))
			}
			if j.Name != "2.8" && !bytes.Equal(ourLock, nixLock) {
				t.Errorf("flakeresolve's lock for Nix %s differs from the one it writes:\n%s\nNix:\n%s", j.Version, ourLock, nixLock)
			}
			store := nixtest.Store(t)
			if _, stderr, err := j.Offline(t, store, "", "flake", "metadata", "--no-update-lock-file", "path:"+ours); err != nil {
				t.Errorf("Nix %s rejects flakeresolve's lock: %v\n%s", j.Name, err, stderr)
			}
			if _, stderr, err := j.Offline(t, store, "", "flake", "lock", "path:"+ours); err != nil {
				t.Errorf("nix flake lock: %v\n%s", err, stderr)
			}
			if _, after := readLock(t, ours); !bytes.Equal(after, ourLock) {
				t.Errorf("Nix %s rewrote flakeresolve's lock:\n%s\nto\n%s", j.Name, ourLock, after)
			}
		})
	}

	// The index's names as a registry Nix 2.8 reads: the newest release,
	// pinned.
	exported := filepath.Join(t.TempDir(), "registry.json")
	if code, out := runCLI("index", "registry", "--index", idx, "--pinned", "-o", exported); code != 0 {
		t.Fatalf("index registry: exit %d\n%s", code, out)
	}
	// (Offline would set an empty registry of its own.)
	out, stderr, err := judges[0].Nix(t, "", "flake", "metadata", "--json", "--flake-registry", exported, "acme-greeting",
		"--store", nixtest.Store(t), "--option", "substituters", "", "--offline")
	var meta struct {
		Locked map[string]any `json:"locked"`
	}
	if err != nil || json.Unmarshal([]byte(out), &meta) != nil || meta.Locked["url"] != pinned("2.0.0") {
		t.Errorf("nix flake metadata --flake-registry exported.json acme-greeting: %v %v\n%s", meta.Locked, err, stderr)
	}

	// A newer matching version is published and the server reloads:
	// Nix 2.26's update moves the lock to it.
	modern := judges[len(judges)-1]
	nixDir := copyRoot(t, root, nil)
	if _, stderr, err := modern.Offline(t, nixtest.Store(t), "", "flake", "lock", "path:"+nixDir); err != nil {
		t.Fatalf("nix flake lock: %v\n%s", err, stderr)
	}
	p.release(t, "1.2.0")
	p.index(t, idx)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, `msg=reloaded`)
	if _, stderr, err := modern.Offline(t, nixtest.Store(t), "", "flake", "update", "--flake", "path:"+nixDir); err != nil {
		t.Fatalf("nix flake update: %v\n%s", err, stderr)
	}
	if nodes, _ := readLock(t, nixDir); nodes["greeting"].Locked["url"] != pinned("1.2.0") {
		t.Errorf("after 1.2.0 is published, Nix %s updates the lock to %v, want %s", modern.Version, nodes["greeting"].Locked, pinned("1.2.0"))
	}
}

// checkDigestHeader asks the HTTP face for url, without following a
// redirect, and checks that the answer names the index it came from: the
// digest header is the index file's SHA-256, as on the gRPC face.
func checkDigestHeader(t *testing.T, url, indexFile string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	data, err := os.ReadFile(indexFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Header.Get(server.IndexDigestKey), fmt.Sprintf("%x", sha256.Sum256(data)); got != want {
		t.Errorf("GET %s: %s %q, want %q", url, server.IndexDigestKey, got, want)
	}
}
