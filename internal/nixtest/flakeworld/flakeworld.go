// Package flakeworld builds, from a txtar fixture, the world a set of flakes
// lives in: git repositories with commits, tags and branches, and tarballs
// served over loopback, so that real Nix can lock a root flake against them.
//
// Nix's lock files hold revs and narHashes, so a fixture that records what
// Nix writes must get the same ones on every run. Commits are made by a fixed
// author at fixed times, one day apart in script order, and tarball entries
// carry fixed times. What still moves is where the world is (a temporary
// directory, a server port), and every rev of a tree whose files name those
// places; fixtures therefore write them as placeholders, which Expand turns
// into this run's values and Normalize turns back:
//
//	$REPOS                  the directory holding the repositories
//	$SERVER                 the tarball server's URL (http://127.0.0.1:PORT)
//	$REV(REPO@LABEL)        the rev of a commit
//	$NARHASH(REPO@LABEL)    the narHash of a commit's tree or a tarball's
//	$LASTMODIFIED(REPO@LABEL), $REVCOUNT(REPO@LABEL)
//	                        a commit's committer time and commit count
//	                        (Expand only: numbers are not unique enough to
//	                        be put back)
//
// The fixture's comment is a script, one command a line (# starts prose):
//
//	commit REPO LABEL [BRANCH]  commit the files of the sections
//	                            REPO@LABEL/PATH, and nothing else, on BRANCH
//	                            (default main; a new branch starts at main's
//	                            head); the repository is left on main
//	tag REPO TAG [LABEL]        a lightweight tag on REPO@LABEL (default: the
//	                            last commit of REPO)
//	tarball NAME LABEL          serve the files of NAME@LABEL/PATH as
//	                            $SERVER/NAME/LABEL.tar.gz, under one
//	                            top-level directory as forges do; when
//	                            NAME@LABEL is a commit, its tree (as a
//	                            forge publishes a tag's)
//
// Files of root/PATH make the root flake, a plain directory. Every other
// section is the caller's (golden files, say). Placeholders in files are
// expanded when the file is written, so a commit may name the revs of
// commits made before it (a committed flake.lock, say).
package flakeworld

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/flakeresolve/flakeresolve/internal/gitindex"
)

// World is a fixture's repositories, tarballs and root flake, made.
type World struct {
	// Repos holds one directory per repository ($REPOS).
	Repos string
	// Root is the root flake's directory.
	Root string
	// Server is the tarball server's URL.
	Server string
	// Archive is the fixture as read.
	Archive *txtar.Archive

	objects map[string]*object // by REPO@LABEL
	order   []string           // object keys in the order made
	names   []string           // repository names, in the order made
}

// object is a commit or a tarball.
type object struct {
	rev, narHash           string
	lastModified, revCount int64
}

// Epoch is the time of the first commit; each later one is a day after.
var Epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// Build makes the world of the fixture file in a temporary directory of
// the test.
func Build(t testing.TB, file string) *World {
	t.Helper()
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	w := &World{
		Repos:   filepath.Join(work, "repos"),
		Root:    filepath.Join(work, "root"),
		Archive: ar,
		objects: map[string]*object{},
	}
	files := map[string][]txtar.File{} // REPO@LABEL -> its files
	for _, f := range ar.Files {
		key, rest, ok := strings.Cut(f.Name, "/")
		if ok && strings.Contains(key, "@") {
			files[key] = append(files[key], txtar.File{Name: rest, Data: f.Data})
		}
	}
	// The server starts first: a commit may name a tarball's URL.
	tarballs := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		data, ok := tarballs[r.URL.Path]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/gzip")
		rw.Write(data)
	}))
	t.Cleanup(srv.Close)
	w.Server = srv.URL
	for n, line := range strings.Split(string(ar.Comment), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if err := w.do(t, fields, files, tarballs); err != nil {
			t.Fatalf("%s:%d: %s: %v", file, n+1, line, err)
		}
	}
	for key := range files {
		if w.objects[key] == nil {
			t.Fatalf("%s: the files of %s are in no commit or tarball of the script", file, key)
		}
	}
	for _, f := range ar.Files {
		if rest, ok := strings.CutPrefix(f.Name, "root/"); ok {
			writeFile(t, filepath.Join(w.Root, rest), w.Expand(string(f.Data)))
		}
	}
	if _, err := os.Stat(filepath.Join(w.Root, "flake.nix")); err != nil {
		t.Fatalf("%s: no root/flake.nix section", file)
	}
	return w
}

func (w *World) do(t testing.TB, fields []string, files map[string][]txtar.File, tarballs map[string][]byte) error {
	arity := map[string][2]int{"commit": {2, 3}, "tag": {2, 3}, "tarball": {2, 2}}
	a, ok := arity[fields[0]]
	if !ok {
		return fmt.Errorf("unknown command %q (commit, tag, tarball)", fields[0])
	}
	if args := len(fields) - 1; args < a[0] || args > a[1] {
		return fmt.Errorf("%s takes %d to %d arguments, got %d", fields[0], a[0], a[1], args)
	}
	name, label := fields[1], fields[2]
	switch fields[0] {
	case "commit":
		key := name + "@" + label
		if w.objects[key] != nil {
			return fmt.Errorf("%s is made twice", key)
		}
		branch := "main"
		if len(fields) == 4 {
			branch = fields[3]
		}
		return w.commit(t, name, key, branch, files[key])
	case "tag":
		rev := ""
		switch {
		case len(fields) == 4:
			o := w.objects[name+"@"+fields[3]]
			if o == nil || o.rev == "" {
				return fmt.Errorf("no commit %s@%s before this line", name, fields[3])
			}
			rev = o.rev
		default:
			for i := len(w.order) - 1; i >= 0 && rev == ""; i-- {
				if strings.HasPrefix(w.order[i], name+"@") {
					rev = w.objects[w.order[i]].rev
				}
			}
			if rev == "" {
				return fmt.Errorf("no commit of %s before this line", name)
			}
		}
		_, err := w.git(filepath.Join(w.Repos, name), 0, "tag", label, rev)
		return err
	case "tarball":
		key := name + "@" + label
		published := w.objects[key]
		if published != nil && published.rev == "" {
			return fmt.Errorf("%s is made twice", key)
		}
		served, bare, err := w.tarball(name+"-"+label, files[key])
		if err != nil {
			return err
		}
		narHash, err := gitindex.NarHash(bytes.NewReader(bare))
		if err != nil {
			return err
		}
		tarballs["/"+name+"/"+label+".tar.gz"] = served
		if published != nil {
			if published.narHash != narHash {
				return fmt.Errorf("the tarball of %s hashes to %s, its commit to %s", key, narHash, published.narHash)
			}
			return nil
		}
		w.add(key, &object{narHash: narHash})
	}
	return nil
}

func (w *World) add(key string, o *object) {
	w.objects[key] = o
	w.order = append(w.order, key)
}

func (w *World) commit(t testing.TB, name, key, branch string, files []txtar.File) error {
	repo := filepath.Join(w.Repos, name)
	n := len(w.order) + 1
	if !slices.Contains(w.names, name) {
		w.names = append(w.names, name)
		if err := os.MkdirAll(repo, 0o755); err != nil {
			return err
		}
		if _, err := w.git(repo, n, "init", "-q", "-b", "main"); err != nil {
			return err
		}
	}
	if branch != "main" {
		if _, err := w.git(repo, n, "rev-parse", "--verify", "-q", "refs/heads/"+branch); err != nil {
			_, err = w.git(repo, n, "branch", branch, "main")
			if err != nil {
				return err
			}
		}
		if _, err := w.git(repo, n, "checkout", "-q", branch); err != nil {
			return err
		}
	}
	if _, err := w.git(repo, n, "rm", "-rq", "--ignore-unmatch", "."); err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s has no files (sections %s/PATH)", key, key)
	}
	for _, f := range files {
		writeFile(t, filepath.Join(repo, f.Name), w.Expand(string(f.Data)))
	}
	steps := [][]string{{"add", "-A"}, {"commit", "-qm", key}}
	for _, s := range steps {
		if _, err := w.git(repo, n, s...); err != nil {
			return err
		}
	}
	facts, err := w.git(repo, n, "show", "-s", "--format=%H %ct", "HEAD")
	if err != nil {
		return err
	}
	count, err := w.git(repo, n, "rev-list", "--count", "HEAD")
	if err != nil {
		return err
	}
	archive, err := w.git(repo, n, "archive", "--format=tar", "HEAD")
	if err != nil {
		return err
	}
	o := &object{}
	rev, ct, _ := strings.Cut(strings.TrimSpace(facts), " ")
	o.rev = rev
	if o.lastModified, err = strconv.ParseInt(ct, 10, 64); err != nil {
		return err
	}
	if o.revCount, err = strconv.ParseInt(strings.TrimSpace(count), 10, 64); err != nil {
		return err
	}
	if o.narHash, err = gitindex.NarHash(strings.NewReader(archive)); err != nil {
		return fmt.Errorf("narHash of %s: %w", key, err)
	}
	w.add(key, o)
	if branch != "main" {
		_, err = w.git(repo, n, "checkout", "-q", "main")
	}
	return err
}

// git runs git in repo as the fixed author, at the time of the n-th
// commit.
func (w *World) git(repo string, n int, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", repo, "-c", "advice.detachedHead=false"}, args...)...)
	date := Epoch.AddDate(0, 0, n-1).Format(time.RFC3339)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=flakeworld", "GIT_AUTHOR_EMAIL=flakeworld@example.org",
		"GIT_COMMITTER_NAME=flakeworld", "GIT_COMMITTER_EMAIL=flakeworld@example.org",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// tarball returns the gzipped archive to serve, with the files under
// top/, and the bare tar of the files alone, whose NAR is the tree Nix
// unpacks.
func (w *World) tarball(top string, files []txtar.File) (served, bare []byte, err error) {
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("tarball %s has no files", top)
	}
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b txtar.File) int { return strings.Compare(a.Name, b.Name) })
	mtime := Epoch.AddDate(0, 1, len(w.order))
	write := func(tw *tar.Writer, prefix string) error {
		dirs := map[string]bool{}
		for _, f := range files {
			for d := path.Dir(path.Join(prefix, f.Name)); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
				dirs[d] = true
			}
		}
		for _, d := range slices.Sorted(func(yield func(string) bool) {
			for d := range dirs {
				if !yield(d) {
					return
				}
			}
		}) {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}); err != nil {
				return err
			}
		}
		for _, f := range files {
			data := []byte(w.Expand(string(f.Data)))
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path.Join(prefix, f.Name), Mode: 0o644, Size: int64(len(data)), ModTime: mtime}); err != nil {
				return err
			}
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
		return tw.Close()
	}
	var gz, raw bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if err := write(tar.NewWriter(zw), top); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	if err := write(tar.NewWriter(&raw), ""); err != nil {
		return nil, nil, err
	}
	return gz.Bytes(), raw.Bytes(), nil
}

// RepoDirs are the repositories' directories, sorted by name.
func (w *World) RepoDirs() []string {
	names := slices.Sorted(slices.Values(w.names))
	dirs := make([]string, len(names))
	for i, n := range names {
		dirs[i] = filepath.Join(w.Repos, n)
	}
	return dirs
}

var placeholderRE = regexp.MustCompile(`\$(REV|NARHASH|LASTMODIFIED|REVCOUNT)\(([^)]*)\)|\$REPOS|\$SERVER`)

// Expand replaces the placeholders in s by this world's values. A
// placeholder naming nothing made yet stays as it is, so that a file
// naming it fails loudly in Nix rather than quietly here.
func (w *World) Expand(s string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		switch m {
		case "$REPOS":
			return w.Repos
		case "$SERVER":
			return w.Server
		}
		sub := placeholderRE.FindStringSubmatch(m)
		o := w.objects[sub[2]]
		if o == nil {
			return m
		}
		switch sub[1] {
		case "REV":
			if o.rev != "" {
				return o.rev
			}
		case "NARHASH":
			return o.narHash
		case "LASTMODIFIED":
			if o.rev != "" {
				return strconv.FormatInt(o.lastModified, 10)
			}
		case "REVCOUNT":
			if o.rev != "" {
				return strconv.FormatInt(o.revCount, 10)
			}
		}
		return m
	})
}

// Normalize replaces this world's paths, server, revs and narHashes in s by
// their placeholders: the inverse of Expand. Where two objects share a
// narHash (one tree in two repositories), the first made names it.
func (w *World) Normalize(s string) string {
	var pairs []string
	for _, key := range w.order {
		o := w.objects[key]
		if o.rev != "" {
			pairs = append(pairs, o.rev, "$REV("+key+")")
		}
		pairs = append(pairs, o.narHash, "$NARHASH("+key+")")
	}
	pairs = append(pairs, w.Repos, "$REPOS", w.Server, "$SERVER")
	seen := map[string]bool{}
	var uniq []string
	for i := 0; i < len(pairs); i += 2 {
		if !seen[pairs[i]] {
			seen[pairs[i]] = true
			uniq = append(uniq, pairs[i], pairs[i+1])
		}
	}
	return strings.NewReplacer(uniq...).Replace(s)
}

func writeFile(t testing.TB, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
