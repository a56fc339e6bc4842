package httpapi

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/telemetry"
	"github.com/flakeresolve/flakeresolve/internal/tlsconf"
	"github.com/flakeresolve/flakeresolve/internal/tlsconf/tlstest"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// secretIndex is a team's index: one tarball flake, which requirement
// URLs can redirect to, that no other caller may know of.
const secretIndex = `{"schema": 1, "flakes": [
 {"name": "acme-secret-tool", "source": {"type": "tarball", "url": "https://dl.example.org/acme/secret-tool/{version}.tar.gz"},
  "versions": [{"version": "1.0.0", "locked": {"type": "tarball", "url": "https://dl.example.org/acme/secret-tool/1.0.0.tar.gz", "rev": "5555555555555555555555555555555555555555", "lastModified": 1714564800, "narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}}]}]}`

// secretLayers put the team's index, as the file secret.json, in front of
// the embedded one.
func secretLayers(t *testing.T) *index.Layers {
	t.Helper()
	ix, err := index.Parse("secret.json", []byte(secretIndex))
	if err != nil {
		t.Fatal(err)
	}
	return index.NewLayers(append([]*index.Index{ix}, defaultLayers(t).Indexes()...)...)
}

// caller is an HTTPS client of the face: a CA to trust, and a bearer
// token or a client certificate, or neither.
type caller struct {
	name   string
	client *http.Client
	token  string
}

func (c caller) do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", c.name, method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location") + "\n" + string(data)
}

func httpsClient(t *testing.T, dir, cert string) *http.Client {
	t.Helper()
	var conf *tls.Config
	var err error
	if cert == "" {
		conf, err = tlsconf.Client(filepath.Join(dir, "ca.pem"), "", "")
	} else {
		conf, err = tlsconf.Client(filepath.Join(dir, "ca.pem"), filepath.Join(dir, cert+".pem"), filepath.Join(dir, cert+".key"))
	}
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: conf}, CheckRedirect: noRedirects.CheckRedirect}
}

// checkSees asks, over every kind of route, about the private flake and
// names close to it, and requires that a caller who may see it is
// answered and that any other learns nothing of it: not its name where
// the request did not spell it (a closest name, the flake a project URL
// names), its URL or its pin.
func checkSees(t *testing.T, base string, c caller, visible bool) {
	t.Helper()
	type ask struct {
		method, path, body string
		visibleCode        int // when the caller may see the flake; a refusal when not
	}
	for _, a := range []ask{
		{"GET", "/v1/flakes/acme-secret-tool/versions", "", http.StatusOK},
		{"GET", "/v1/flakes/acme-secret-too/versions", "", http.StatusNotFound},
		{"GET", "/f/acme/secret-tool/%5E1.tar.gz", "", http.StatusFound},
		{"GET", "/f/acme/secret-tool/releases", "", http.StatusOK},
		{"GET", "/version/resolve/acme/secret-tool/%5E1", "", http.StatusOK},
		{"POST", "/v1/inputs:resolve", `{"inputs": {"tool": {"url": "https://dl.example.org/acme/secret-tool/1.0.0.tar.gz", "version": "^1"}}}`, http.StatusOK},
		{"POST", "/v1/inputs:resolve", `{"inputs": {"n": {"url": "github:NixOS/nixpkgs"}}, "singleFlakes": ["acme-secret-tol"]}`, http.StatusBadRequest},
	} {
		code, said := c.do(t, a.method, base+a.path, a.body)
		if visible {
			if code != a.visibleCode {
				t.Errorf("%s: %s %s: HTTP %d, want %d\n%s", c.name, a.method, a.path, code, a.visibleCode, said)
			}
			continue
		}
		location, _, _ := strings.Cut(said, "\n")
		named := strings.Contains(a.path+a.body, "acme-secret-tool")
		if code < 400 || location != "" || strings.Contains(said, "acme-secret-tool") && !named || strings.Contains(said, "5555555555") {
			t.Errorf("%s: %s %s: HTTP %d, and said:\n%s", c.name, a.method, a.path, code, said)
		}
	}
}

// TestHTTPCallersAndLimits: the HTTP face names callers as the gRPC
// server does (a bearer token in the Authorization header, or a client
// certificate over HTTPS), shows each only the layers it may see on every
// route, and refuses what the server's limits refuse with 429 and the
// LimitExceeded detail.
func TestHTTPCallersAndLimits(t *testing.T) {
	dir := t.TempDir()
	tlstest.Certs(t, dir, "team-a", "team-b")
	p := func(name string) string { return filepath.Join(dir, name) }
	tokenA, tokenB := "token-of-team-a-0123456789", "token-of-team-b-0123456789"
	tokens, err := server.ParseTokens("tokens", []byte(fmt.Sprintf("team-a %s\nteam-b %s\n", tokenA, tokenB)))
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := tlsconf.Server(p("server.pem"), p("server.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	metrics := telemetry.New()
	cfg := service.Config{
		Access:   service.Access{Private: map[string][]string{"secret.json": {"team-a"}}},
		Limits:   solver.Limits{MaxDepth: 4},
		Observer: metrics,
	}
	f := serveWith(t, secretLayers(t), flakeref.NixEvery, cfg, server.Options{TLS: serverTLS, Tokens: tokens, Metrics: metrics})
	anyone := httpsClient(t, dir, "")
	checkSees(t, f.http, caller{"team-a's token", anyone, tokenA}, true)
	checkSees(t, f.http, caller{"team-b's token", anyone, tokenB}, false)
	checkSees(t, f.http, caller{"anonymous", anyone, ""}, false)

	// A token that is not known is refused, not read as anonymous.
	if code, said := (caller{"a guessed token", anyone, "guessed-token-0000000000"}).do(t, "GET", f.http+"/v1/flakes/hyprutils/versions", ""); code != http.StatusUnauthorized {
		t.Errorf("an unknown token: HTTP %d\n%s", code, said)
	}

	// Over a limit: 429, with the limit, its bound and the field in the
	// status's LimitExceeded.
	deep := `{"url": "github:NixOS/nixpkgs"}`
	for range 6 {
		deep = `{"url": "github:NixOS/nixpkgs", "inputs": {"nixpkgs": ` + deep + `}}`
	}
	code, said := (caller{"team-a", anyone, tokenA}).do(t, "POST", f.http+"/v1/inputs:resolve", `{"inputs": {"a": `+deep+`}}`)
	var st spb.Status
	_, body, _ := strings.Cut(said, "\n")
	if err := protojson.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("HTTP %d, body is no google.rpc.Status: %v\n%s", code, err, body)
	}
	var limit *pb.LimitExceeded
	for _, d := range status.FromProto(&st).Details() {
		if le, ok := d.(*pb.LimitExceeded); ok {
			limit = le
		}
	}
	if code != http.StatusTooManyRequests || limit == nil || limit.Limit != pb.Limit_LIMIT_OVERRIDE_DEPTH || limit.MaxValue != 4 || !strings.HasPrefix(limit.Field, "inputs.a.inputs.nixpkgs") {
		t.Errorf("nested overrides over --max-depth: HTTP %d, LimitExceeded %v\n%s", code, limit, body)
	}

	// The calls were counted under the HTTP face.
	fams, err := metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var httpCalls float64
	for _, fam := range fams {
		if fam.GetName() != "flakeresolve_rpcs_total" {
			continue
		}
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				if l.GetName() == "face" && l.GetValue() == "http" {
					httpCalls += m.GetCounter().GetValue()
				}
			}
		}
	}
	if httpCalls < 10 {
		t.Errorf("%v calls counted under face=http, want the test's", httpCalls)
	}

	// Mutual TLS: the client certificate the HTTPS request presents names
	// the caller.
	mtls, err := tlsconf.Server(p("server.pem"), p("server.key"), p("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	m := serveWith(t, secretLayers(t), flakeref.NixEvery, service.Config{Access: cfg.Access}, server.Options{TLS: mtls})
	checkSees(t, m.http, caller{"team-a's certificate", httpsClient(t, dir, "team-a"), ""}, true)
	checkSees(t, m.http, caller{"team-b's certificate", httpsClient(t, dir, "team-b"), ""}, false)
	if _, err := anyone.Get(m.http + "/v1/flakes/hyprutils/versions"); err == nil {
		t.Errorf("a client without a certificate was answered by a mutual TLS server")
	}
}
