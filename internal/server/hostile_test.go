package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/telemetry"
	"github.com/flakeresolve/flakeresolve/internal/tlsconf"
	"github.com/flakeresolve/flakeresolve/internal/tlsconf/tlstest"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// The hostile-request suite: each test sends a real server, over loopback
// and real gRPC, a request that once cost it gigabytes, minutes of CPU, a
// wrong answer or a secret, and checks the precise refusal that replaced
// it, while the heap stays under a ceiling (heapCeiling).

// heapCeiling bounds the live heap of a hostile test: the embedded index
// and the private one, a server, and the requests (a few MB each). The
// requests refused here once took 2.6 to 6 GB.
const heapCeiling = 768 << 20

// underCeiling sets the process's soft memory limit to the ceiling and
// checks, when the test ends, that the heap's objects never went over it
// (sampled every 2 ms).
func underCeiling(t *testing.T) {
	t.Helper()
	old := debug.SetMemoryLimit(heapCeiling)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		debug.SetMemoryLimit(old)
		if peak > heapCeiling {
			t.Errorf("the heap peaked at %d MB, over the ceiling of %d MB", peak>>20, heapCeiling>>20)
		}
		t.Logf("heap peak %d MB", peak>>20)
	})
}

// syncBuffer is a log destination tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hostile is one server under test.
type hostile struct {
	addr    string
	log     *syncBuffer
	srv     *Server
	metrics *telemetry.Metrics
}

// privateIndex is a team's index with one flake no other caller may know.
const privateIndex = `{"schema": 1, "flakes": [{
  "name": "acme-secret-tool",
  "source": {"type": "github", "owner": "acme", "repo": "secret-tool"},
  "versions": [{"version": "1.0.0",
    "locked": {"type": "github", "owner": "acme", "repo": "secret-tool",
               "rev": "1111111111111111111111111111111111111111", "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "lastModified": 1751000000}}]}]}`

// layers are the private index in front of the embedded one.
func layers(t *testing.T) *index.Layers {
	t.Helper()
	priv, err := index.Parse("private.json", []byte(privateIndex))
	if err != nil {
		t.Fatal(err)
	}
	def, err := defaultindex.Load()
	if err != nil {
		t.Fatal(err)
	}
	return index.NewLayers(priv, def)
}

// startHostile serves the layers with the private index visible to team-a
// only, the given configuration and options filled in with the suite's.
func startHostile(t *testing.T, cfg service.Config, opts Options) *hostile {
	t.Helper()
	h := &hostile{log: &syncBuffer{}, metrics: telemetry.New()}
	cfg.Access = service.Access{Private: map[string][]string{"private.json": {"team-a"}}}
	cfg.Observer = h.metrics
	if cfg.MaxSolveTime == 0 {
		cfg.MaxSolveTime = 20 * time.Second
	}
	opts.Logger = slog.New(slog.NewTextHandler(h.log, nil))
	opts.Metrics = h.metrics
	if opts.MaxRecvBytes == 0 {
		opts.MaxRecvBytes = 4 << 20
	}
	h.srv = NewGRPCServer(service.New(layers(t), cfg), opts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go h.srv.Serve(lis)
	t.Cleanup(h.srv.Stop)
	h.addr = lis.Addr().String()
	return h
}

func (h *hostile) client(t *testing.T, o ClientOptions) *Client {
	t.Helper()
	c, err := Dial(h.addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// limitOf is the LimitExceeded of a RESOURCE_EXHAUSTED status, read back
// into the service's error.
func limitOf(t *testing.T, err error) *solver.LimitError {
	t.Helper()
	var le *solver.LimitError
	if !errors.As(err, &le) || Status(err).Code() != codes.ResourceExhausted {
		t.Fatalf("%v (%v), want RESOURCE_EXHAUSTED with a LimitExceeded detail", err, Status(err).Code())
	}
	return le
}

func fieldErrorOf(t *testing.T, err error) *service.FieldError {
	t.Helper()
	var fe *service.FieldError
	if !errors.As(err, &fe) || Status(err).Code() != codes.InvalidArgument {
		t.Fatalf("%v, want INVALID_ARGUMENT naming a field", err)
	}
	return fe
}

// deepOverrides is a root input whose nixpkgs override is itself
// overridden, depth levels down: 144 KB at 2,000 levels.
func deepOverrides(depth int) *pb.ResolveInputsRequest {
	in := &pb.Input{Url: "github:NixOS/nixpkgs", Version: "^0.1"}
	for range depth {
		in = &pb.Input{Url: "github:NixOS/nixpkgs", Version: "^0.1", Inputs: map[string]*pb.Input{"nixpkgs": in}}
	}
	return &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"a": {Url: "github:hyprwm/Hyprland", Version: "^0.34", Inputs: map[string]*pb.Input{"nixpkgs": in}}}}
}

// TestHostileSizes: requests whose expansion costs far more than their
// bytes are measured first and refused with the limit they cross and the
// field where: nested overrides, too many declarations, a name of a
// megabyte. A request within the limits still resolves.
func TestHostileSizes(t *testing.T) {
	underCeiling(t)
	h := startHostile(t, service.Config{Limits: solver.Limits{MaxDeclarations: 20_000}}, Options{})
	c := h.client(t, ClientOptions{})
	ctx := ctxFor(t)

	le := limitOf(t, func() error { _, err := c.ResolveInputs(ctx, deepOverrides(2000)); return err }())
	if le.Limit != solver.LimitDepth || le.Max != solver.DefaultLimits.MaxDepth || !strings.HasPrefix(le.Field, "inputs.a.inputs.nixpkgs.inputs.nixpkgs") {
		t.Errorf("2,000 nested overrides: %+v", le)
	}
	// The same through ListVersions' context and ExplainInputs, whose
	// fields sit under a prefix.
	_, err := c.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/nixpkgs", Context: deepOverrides(2000)})
	if le := limitOf(t, err); !strings.HasPrefix(le.Field, "context.inputs.a.") {
		t.Errorf("ListVersions: %+v", le)
	}
	_, err = c.ExplainInputs(ctx, &pb.ExplainInputsRequest{ResolveRequest: deepOverrides(2000), Target: &pb.ExplainInputsRequest_Flake{Flake: "nixpkgs"}})
	if le := limitOf(t, err); !strings.HasPrefix(le.Field, "resolve_request.inputs.a.") {
		t.Errorf("ExplainInputs: %+v", le)
	}

	many := &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{}}
	for i := range 30_000 {
		many.Inputs[fmt.Sprintf("i%d", i)] = &pb.Input{Url: "github:NixOS/nixpkgs"}
	}
	if le := limitOf(t, func() error { _, err := c.ResolveInputs(ctx, many); return err }()); le.Limit != solver.LimitDeclarations || le.Value != 30_000 || le.Max != 20_000 {
		t.Errorf("30,000 inputs: %+v", le)
	}

	huge := strings.Repeat("x", 1<<20)
	_, err = c.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/" + huge})
	if le := limitOf(t, err); le.Limit != solver.LimitFieldLength || le.Field != "parent" {
		t.Errorf("a 1 MB flake name: %+v", le)
	}
	_, err = c.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"a": {Url: "github:x/" + huge}}})
	if le := limitOf(t, err); le.Limit != solver.LimitFieldLength || le.Field != "inputs.a.url" {
		t.Errorf("a 1 MB URL: %+v", le)
	}

	if _, err := c.ResolveInputs(ctx, deepOverrides(3)); err != nil {
		t.Errorf("3 nested overrides: %v", err)
	}
	// The error lines of the log quote no request: at most a bounded
	// prefix of the message.
	if strings.Contains(h.log.String(), strings.Repeat("x", maxLoggedMessage+1)) {
		t.Errorf("the log echoes a megabyte of the request")
	}
}

// TestHostileSuggestions: an unknown name is answered with the closest
// known names only when it could be a misspelling of one: a name longer
// than any flake's costs no comparison with the 5,000 names of an index
// (it once cost 115 s of CPU, past cancellation and SIGTERM).
func TestHostileSuggestions(t *testing.T) {
	underCeiling(t)
	h := startHostile(t, service.Config{Limits: solver.Limits{MaxFieldLength: 2 << 20}}, Options{})
	c := h.client(t, ClientOptions{})
	ctx := ctxFor(t)
	var nf *index.NotFoundError
	_, err := c.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/" + strings.Repeat("hyprutils", 100_000)})
	if !errors.As(err, &nf) || len(nf.Suggestions) != 0 {
		t.Errorf("a 900 KB name: %v, want not found with no suggestion", err)
	}
	_, err = c.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutil"})
	if !errors.As(err, &nf) || len(nf.Suggestions) == 0 || nf.Suggestions[0] != "hyprutils" {
		t.Errorf("hyprutil: %v, want hyprutils suggested", err)
	}
}

// TestHostileNames: input names are Nix identifiers. A root input named
// a/nixpkgs once collided with input a's nixpkgs, and an empty name with
// the root ("4 trees for 3 paths"); both are malformed requests now, as
// are update paths and follows with such names.
func TestHostileNames(t *testing.T) {
	underCeiling(t)
	h := startHostile(t, service.Config{}, Options{})
	c := h.client(t, ClientOptions{})
	ctx := ctxFor(t)
	nixpkgs := &pb.Input{Url: "github:NixOS/nixpkgs", Version: "^0.1"}
	hypr := &pb.Input{Url: "github:hyprwm/Hyprland", Version: "^0.34"}
	follows := func(p string) *pb.Input { return &pb.Input{Follows: &p} }
	for _, tc := range []struct {
		req   *pb.ResolveInputsRequest
		field string
		msg   string
	}{
		{&pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"a": hypr, "a/nixpkgs": nixpkgs}}, "inputs", `input name "a/nixpkgs" contains /`},
		{&pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"a": hypr, "": nixpkgs}}, "inputs", "an empty input name"},
		{&pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"a": {Url: hypr.Url, Inputs: map[string]*pb.Input{"nix pkgs": nixpkgs}}}}, "inputs.a.inputs", `input name "nix pkgs": byte 3`},
		{&pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"a": hypr, "b": follows("a//nixpkgs")}}, "inputs.b.follows", "an empty input name"},
		{&pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"a": hypr}, UpdatePaths: []string{"a/"}}, "update_paths[0]", "an empty input name"},
	} {
		_, err := c.ResolveInputs(ctx, tc.req)
		if fe := fieldErrorOf(t, err); fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%v: %v; want %s: ...%s...", tc.req.Inputs, err, tc.field, tc.msg)
		}
	}
}

// TestHostilePins: a lock file's pins are Nix's: a narHash that is not
// SRI SHA-256 or a rev that is not 40 hex digits was once kept and
// written into the next lock.
func TestHostilePins(t *testing.T) {
	underCeiling(t)
	h := startHostile(t, service.Config{}, Options{})
	c := h.client(t, ClientOptions{})
	ctx := ctxFor(t)
	lock := func(rev, narHash string) *pb.LockFile {
		return &pb.LockFile{Version: 7, Root: "root", Nodes: map[string]*pb.LockNode{
			"root": {Inputs: map[string]*pb.LockInput{"nixpkgs": {Target: &pb.LockInput_Node{Node: "nixpkgs"}}}},
			"nixpkgs": {
				Original: &pb.FlakeRef{Type: "github", Owner: "NixOS", Repo: "nixpkgs"},
				Locked:   &pb.FlakeRef{Type: "github", Owner: "NixOS", Repo: "nixpkgs", Rev: rev, NarHash: narHash, LastModified: 1700000000},
			},
		}}
	}
	good := "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU="
	for _, tc := range []struct{ rev, hash, field string }{
		{strings.Repeat("a", 40), "garbage", "lock_file.nodes.nixpkgs.locked.nar_hash"},
		{strings.Repeat("a", 40), "sha256-AAAA", "lock_file.nodes.nixpkgs.locked.nar_hash"},
		{"HEAD", good, "lock_file.nodes.nixpkgs.locked.rev"},
		{strings.Repeat("A", 40), good, "lock_file.nodes.nixpkgs.locked.rev"},
	} {
		req := &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"nixpkgs": {Url: "github:NixOS/nixpkgs"}}, LockFile: lock(tc.rev, tc.hash)}
		_, err := c.ResolveInputs(ctx, req)
		if fe := fieldErrorOf(t, err); fe.Field != tc.field {
			t.Errorf("rev %q, narHash %q: %v, want %s", tc.rev, tc.hash, err, tc.field)
		}
	}
	req := &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"nixpkgs": {Url: "github:NixOS/nixpkgs"}}, LockFile: lock(strings.Repeat("a", 40), good)}
	if _, err := c.ResolveInputs(ctx, req); err != nil {
		t.Errorf("a well-formed pin: %v", err)
	}
}

// rawCodec sends bytes as they are, as a broken or hostile client does.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *(v.(*[]byte)) = data; return nil }
func (rawCodec) Name() string                       { return "proto" }

// TestHostileBytes: bytes that are no request message are the client's
// error, INVALID_ARGUMENT, and logged (gRPC alone answers INTERNAL
// before any interceptor, so they were never logged).
func TestHostileBytes(t *testing.T) {
	underCeiling(t)
	h := startHostile(t, service.Config{}, Options{})
	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []byte
	err = conn.Invoke(ctxFor(t), "/flakeresolve.v1.ResolverService/ResolveInputs", []byte("\x0a\x05ab"), &out, grpc.ForceCodec(rawCodec{}))
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "not a valid flakeresolve.v1.ResolveInputsRequest message") {
		t.Errorf("truncated bytes: %v, want INVALID_ARGUMENT", err)
	}
	if fe := fieldErrorOf(t, errorOf(h.addr, err)); fe.Field != "request" {
		t.Errorf("field %q, want request", fe.Field)
	}
	if log := h.log.String(); !strings.Contains(log, "method=/flakeresolve.v1.ResolverService/ResolveInputs code=InvalidArgument") {
		t.Errorf("not logged:\n%s", log)
	}
}

// TestHostileWorkCap: the server's cap on work holds whatever the request
// asks (none, or a trillion units), and its cap on effort whatever effort
// the request asks: the answer's work is the cap's, not the request's.
func TestHostileWorkCap(t *testing.T) {
	underCeiling(t)
	const capped = 200
	free := startHostile(t, service.Config{}, Options{}).client(t, ClientOptions{})
	limited := startHostile(t, service.Config{Limits: solver.Limits{Work: capped}}, Options{}).client(t, ClientOptions{})
	ctx := ctxFor(t)
	desktop := func(work int64) *pb.ResolveInputsRequest {
		return &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{
			"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.34"},
			"nixpkgs":  {Url: "github:NixOS/nixpkgs/nixos-unstable", Version: "^0.1"},
			"hm":       {Url: "github:nix-community/home-manager", Inputs: map[string]*pb.Input{"nixpkgs": {Follows: proto.String("nixpkgs")}}},
		}, Strategy: pb.Strategy_STRATEGY_FEWEST, WorkLimit: work, Effort: durationpb.New(time.Hour)}
	}
	whole, err := free.ResolveInputs(ctx, desktop(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, asked := range []int64{0, 1e12} {
		a, err := limited.ResolveInputs(ctx, desktop(asked))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("work_limit %d: work %d (uncapped: %d)", asked, a.Stats.Work, whole.Stats.Work)
		if a.Stats.Work >= whole.Stats.Work {
			t.Errorf("work_limit %d under a cap of %d: work %d, as much as uncapped (%d)", asked, capped, a.Stats.Work, whole.Stats.Work)
		}
	}
}

// sees says what a caller learns of the private flake: whether it is
// listed, and every name the calls' answers and errors mention.
func sees(t *testing.T, c *Client) (listed bool, said string) {
	t.Helper()
	ctx := ctxFor(t)
	var texts []string
	_, err := c.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/acme-secret-tool"})
	listed = err == nil
	texts = append(texts, fmt.Sprint(err))
	_, err = c.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/acme-secret-too"})
	texts = append(texts, statusText(err))
	a, err := c.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"tool": {Url: "github:acme/secret-tool", Version: "^1"}}})
	texts = append(texts, fmt.Sprint(a), statusText(err))
	_, err = c.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"n": {Url: "github:NixOS/nixpkgs"}}, SingleFlakes: []string{"acme-secret-tol"}})
	texts = append(texts, statusText(err))
	return listed, strings.Join(texts, "\n")
}

// statusText is everything a status says, details included.
func statusText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err, Status(err).Proto())
}

// leaks says whether what a caller was told mentions the private flake
// where the caller did not name it: as a suggestion, or by its pin.
func leaks(said string) bool {
	return regexp.MustCompile(`closest[^\n]*acme-secret-tool`).MatchString(said) || strings.Contains(said, "1111111111")
}

// TestHostileVisibility: over TLS, a private layer's flakes are seen by
// the callers named for it (by client certificate or by token) and by no
// one else: not in answers, not in errors, not in suggestions.
func TestHostileVisibility(t *testing.T) {
	underCeiling(t)
	dir := t.TempDir()
	tlstest.Certs(t, dir, "team-a", "team-b")
	p := func(name string) string { return filepath.Join(dir, name) }
	tokenA, tokenB := "token-of-team-a-0123456789", "token-of-team-b-0123456789"
	tokens, err := ParseTokens("tokens", []byte(fmt.Sprintf("# callers\nteam-a %s\nteam-b %s\n", tokenA, tokenB)))
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := tlsconf.Server(p("server.pem"), p("server.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	h := startHostile(t, service.Config{}, Options{TLS: serverTLS, Tokens: tokens})
	clientTLS := func(cert string) *tls.Config {
		t.Helper()
		c, err := tlsconf.Client(p("ca.pem"), cert, strings.Replace(cert, ".pem", ".key", 1))
		if cert == "" {
			c, err = tlsconf.Client(p("ca.pem"), "", "")
		}
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		o       ClientOptions
		visible bool
	}{
		{"team-a's token", ClientOptions{TLS: clientTLS(""), Token: tokenA}, true},
		{"team-b's token", ClientOptions{TLS: clientTLS(""), Token: tokenB}, false},
		{"anonymous", ClientOptions{TLS: clientTLS("")}, false},
	} {
		listed, said := sees(t, h.client(t, tc.o))
		if listed != tc.visible || !tc.visible && leaks(said) {
			t.Errorf("%s: listed %v, and said:\n%s", tc.name, listed, said)
		}
	}
	// A token that is not known is refused, not read as anonymous.
	_, err = h.client(t, ClientOptions{TLS: clientTLS(""), Token: "guessed-token-0000000000"}).ListVersions(ctxFor(t), &pb.ListVersionsRequest{Parent: "flakes/hyprutils"})
	if Status(err).Code() != codes.Unauthenticated {
		t.Errorf("an unknown token: %v", err)
	}
	// A plaintext client does not reach a TLS server.
	if _, err := h.client(t, ClientOptions{}).ListVersions(ctxFor(t), &pb.ListVersionsRequest{Parent: "flakes/hyprutils"}); Status(err).Code() != codes.Unavailable {
		t.Errorf("plaintext to TLS: %v", err)
	}

	// Mutual TLS: the client certificate's subject names the caller.
	mtls, err := tlsconf.Server(p("server.pem"), p("server.key"), p("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	m := startHostile(t, service.Config{}, Options{TLS: mtls})
	for _, tc := range []struct {
		cert    string
		visible bool
	}{{p("team-a.pem"), true}, {p("team-b.pem"), false}} {
		listed, said := sees(t, m.client(t, ClientOptions{TLS: clientTLS(tc.cert)}))
		if listed != tc.visible || !tc.visible && leaks(said) {
			t.Errorf("%s: listed %v, and said:\n%s", tc.cert, listed, said)
		}
	}
	if _, err := m.client(t, ClientOptions{TLS: clientTLS("")}).ListVersions(ctxFor(t), &pb.ListVersionsRequest{Parent: "flakes/hyprutils"}); err == nil {
		t.Errorf("a client without a certificate was answered by a mutual TLS server")
	}
	if log := m.log.String(); !strings.Contains(log, "caller=team-a") {
		t.Errorf("the access log does not name the caller:\n%s", log)
	}
}

// TestHostileReflection: reflection, which lists the API to anyone, is off
// unless asked for.
func TestHostileReflection(t *testing.T) {
	underCeiling(t)
	for _, on := range []bool{false, true} {
		h := startHostile(t, service.Config{}, Options{Reflection: on})
		conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctxFor(t))
		if err == nil {
			// A stream the server refused ends Send with io.EOF; Recv
			// says why.
			stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
			_, err = stream.Recv()
		}
		if got := status.Code(err); on && got != codes.OK || !on && got != codes.Unimplemented {
			t.Errorf("reflection %v: %v", on, err)
		}
	}
}

// TestHostileLargeAnswer: an answer over gRPC's default 4 MiB reaches the
// command line's client (it once broke --server).
func TestHostileLargeAnswer(t *testing.T) {
	underCeiling(t)
	h := startHostile(t, service.Config{Limits: solver.Limits{MaxDeclarations: 50_000}}, Options{})
	c := h.client(t, ClientOptions{})
	req := &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{}}
	for i := range 20_000 {
		req.Inputs[fmt.Sprintf("nixpkgs%d", i)] = &pb.Input{Url: "github:NixOS/nixpkgs", Version: "^0.1"}
	}
	a, err := c.ResolveInputs(ctxFor(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(a.Paths); n != 20_000 {
		t.Errorf("%d paths, want 20,000", n)
	}
}

// TestAccessLogBounded: a flood of calls writes a bounded number of lines
// (burst per method and code) and one summary that counts them all; the
// log says how a call really ended when its caller went away or its
// deadline passed while the handler finished.
func TestAccessLogBounded(t *testing.T) {
	h := startHostile(t, service.Config{}, Options{LogBurst: 3, LogInterval: time.Hour})
	c := h.client(t, ClientOptions{})
	for range 200 {
		c.ListVersions(ctxFor(t), &pb.ListVersionsRequest{Parent: "nonsense"})
	}
	h.srv.FlushLog()
	log := h.log.String()
	if n := strings.Count(log, "msg=rpc method=/flakeresolve.v1.ResolverService/ListVersions code=InvalidArgument"); n != 3 {
		t.Errorf("%d lines for 200 calls, want 3:\n%s", n, log)
	}
	if !strings.Contains(log, `msg="rpc summary" method=/flakeresolve.v1.ResolverService/ListVersions code=InvalidArgument calls=200 not_logged=197`) {
		t.Errorf("no summary:\n%s", log)
	}

	// The HTTP face's request lines are bounded alike, by route, however
	// many paths the requests spell.
	for i := range 200 {
		r := httptest.NewRequest("GET", fmt.Sprintf("/f/acme/nothing-%d/%%5E1.tar.gz", i), nil)
		h.srv.LogHTTP(r, "GET /f/{owner}/{project}/{requirement}", 404, time.Millisecond)
	}
	h.srv.FlushLog()
	log = h.log.String()
	if n := strings.Count(log, "msg=http "); n != 3 || !strings.Contains(log, "request=\"GET /f/acme/nothing-0/%5E1.tar.gz\"") {
		t.Errorf("%d lines for 200 requests, want 3, the first naming its path:\n%s", n, log)
	}
	if !strings.Contains(log, `msg="rpc summary" method="GET /f/{owner}/{project}/{requirement}" code=404 calls=200 not_logged=197`) {
		t.Errorf("no summary of the HTTP requests:\n%s", log)
	}

	// A handler that answers after its caller left answered no one.
	var buf syncBuffer
	al := newAccessLog("grpc", slog.New(slog.NewTextHandler(&buf, nil)), nil, 10, time.Hour)
	info := &grpc.UnaryServerInfo{FullMethod: "/x/Y"}
	ok := func(context.Context, any) (any, error) { return "answer", nil }
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	al.observe(canceled, nil, info, ok)
	al.observe(expired, nil, info, ok)
	if got := buf.String(); !strings.Contains(got, "code=Canceled") || !strings.Contains(got, "code=DeadlineExceeded") || strings.Contains(got, "code=OK") {
		t.Errorf("logged:\n%s", got)
	}
}

// TestMetrics: the admin handler serves the calls by method and code, the
// solves by outcome with their sizes, the admission queue and the index,
// and pprof.
func TestMetrics(t *testing.T) {
	h := startHostile(t, service.Config{MaxConcurrentSolves: 2, MaxQueuedSolves: 4}, Options{})
	h.metrics.IndexLoaded("def456", map[string]string{"private.json": "abc123"}, time.Second)
	c := h.client(t, ClientOptions{})
	ctx := ctxFor(t)
	c.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils"})
	c.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "nonsense"})
	c.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.34"}}})
	c.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.50"}}})
	admin := httptest.NewServer(h.metrics.AdminHandler())
	defer admin.Close()
	get := func(path string) string {
		resp, err := admin.Client().Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	text := get("/metrics")
	for _, want := range []string{
		`flakeresolve_rpcs_total{code="OK",face="grpc",method="/flakeresolve.v1.ResolverService/ListVersions"} 1`,
		`flakeresolve_rpcs_total{code="InvalidArgument",face="grpc",method="/flakeresolve.v1.ResolverService/ListVersions"} 1`,
		`flakeresolve_rpcs_total{code="FailedPrecondition",face="grpc",method="/flakeresolve.v1.ResolverService/ResolveInputs"} 1`,
		`flakeresolve_rpc_duration_seconds_count{face="grpc",method="/flakeresolve.v1.ResolverService/ResolveInputs"} 2`,
		`flakeresolve_solves_total{outcome="ok"} 1`,
		`flakeresolve_solves_total{outcome="conflict"}`,
		`flakeresolve_solve_problem_size_count{measure="candidates"}`,
		`flakeresolve_solve_objective_gap_count{criterion=`,
		`flakeresolve_solve_memory_bytes_count`,
		`flakeresolve_admission_wait_seconds_count{admitted="true"} 2`,
		`flakeresolve_admission_running 0`,
		`flakeresolve_admission_queue_length 0`,
		`flakeresolve_index_info{digest="abc123",origin="private.json"} 1`,
		`flakeresolve_index_digest_info{digest="def456"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(get("/debug/pprof/"), "goroutine") {
		t.Errorf("no pprof index")
	}
}
