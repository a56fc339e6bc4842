package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/index"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// serverProc is a running `flakeresolve serve` process.
type serverProc struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

func (s *serverProc) logged() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// waitLog waits until the server's log matches re.
func (s *serverProc) waitLog(t *testing.T, re string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if regexp.MustCompile(re).MatchString(s.logged()) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server log never matched %q:\n%s", re, s.logged())
}

var buildOnce struct {
	sync.Once
	bin string
	err error
	out []byte
}

// binary builds the real command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flakeresolve-e2e")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.bin = filepath.Join(dir, "flakeresolve")
		cmd := exec.Command("go", "build", "-o", buildOnce.bin, "../../cmd/flakeresolve")
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.bin
}

func startServer(t *testing.T, args ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serverProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		close(s.done)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	s.waitLog(t, `msg=serving addr=127\.0\.0\.1:\d+`)
	s.addr = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.logged())[1]
	return s
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func versionsOf(r *pb.ListVersionsResponse) string {
	var vs []string
	for _, v := range r.Versions {
		vs = append(vs, v.Version)
	}
	return strings.Join(vs, " ")
}

func TestServeEndToEnd(t *testing.T) {
	s := startServer(t, "--reflection")
	conn := dial(t, s.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "flakeresolve.v1.ResolverService"})
	if err != nil || hc.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v; want SERVING", hc, err)
	}

	// Reflection lists the service, as grpcurl list does.
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	rr, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, sv := range rr.GetListServicesResponse().GetService() {
		services = append(services, sv.Name)
	}
	if !strings.Contains(strings.Join(services, " "), "flakeresolve.v1.ResolverService") {
		t.Errorf("reflection lists %v, want flakeresolve.v1.ResolverService", services)
	}

	client := pb.NewResolverServiceClient(conn)
	resp, err := client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "^0.8"})
	if err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(resp); got != "0.8.4 0.8.3 0.8.2 0.8.1 0.8.0" || resp.TotalSize != 5 || resp.VersionCount != 40 {
		t.Errorf("ListVersions(hyprutils ^0.8) = %q, %d of %d", got, resp.TotalSize, resp.VersionCount)
	}
	if v := resp.Versions[0]; v.Name != "flakes/hyprutils/versions/0.8.4" || v.Locked.Rev != "b2ae3204845f5f2f79b4703b441252d8ad2ecfd0" || v.Locked.Owner != "hyprwm" {
		t.Errorf("newest = %v", v)
	}

	// Pages of two, each token continuing the last: the same five
	// versions, and a token of another request refused.
	var paged []string
	page := &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "^0.8", PageSize: 2}
	for {
		r, err := client.ListVersions(ctx, page)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, versionsOf(r))
		if r.NextPageToken == "" {
			break
		}
		page.PageToken = r.NextPageToken
	}
	if got := strings.Join(paged, " | "); got != "0.8.4 0.8.3 | 0.8.2 0.8.1 | 0.8.0" {
		t.Errorf("pages = %q", got)
	}
	first, err := client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "^0.8", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "*", PageToken: first.NextPageToken})
	if fieldOf(t, err, codes.InvalidArgument, "INVALID_REQUEST") != "page_token" {
		t.Errorf("a token of another request: %v", err)
	}

	_, err = client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutil", Requirement: "*"})
	if info := errorInfo(t, err, codes.NotFound, "FLAKE_NOT_FOUND"); info.Metadata["closest"] != "hyprutils" || !strings.Contains(status.Convert(err).Message(), "closest: hyprutils") {
		t.Errorf("unknown flake: %v, %v", err, info)
	}
	_, err = client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: ">= 1 <2"})
	if fieldOf(t, err, codes.InvalidArgument, "INVALID_REQUIREMENT") != "requirement" || !strings.Contains(status.Convert(err).Message(), "at column 6") {
		t.Errorf("bad requirement: %v", err)
	}
	_, err = client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "hyprutils"})
	if fieldOf(t, err, codes.InvalidArgument, "INVALID_REQUEST") != "parent" {
		t.Errorf("a parent that is no resource name: %v", err)
	}

	// The request size limit (1 MiB by default).
	_, err = client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/" + strings.Repeat("x", 2<<20), Requirement: "*"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("2 MiB request: %v, want ResourceExhausted", err)
	}

	// Concurrent calls all get the same answer.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			r, err := client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/nixpkgs", Requirement: "^0.2405"})
			if err != nil {
				errs <- err
			} else if len(r.Versions) == 0 {
				errs <- status.Error(codes.Internal, "no nixpkgs 24.05 versions")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// SIGTERM: a graceful stop and exit 0.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-s.done
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("serve exited with %v after SIGTERM, want 0\n%s", err, s.logged())
	}
	if !strings.Contains(s.logged(), "msg=stopped") {
		t.Errorf("no stop in the log:\n%s", s.logged())
	}
}

func TestServeReloadKeepsOldIndexOnBadFile(t *testing.T) {
	flake := func(version string) []byte {
		return []byte(`{"schema": 1, "flakes": [{"name": "mylib", "source": {"type": "github", "owner": "acme", "repo": "mylib"},
		  "versions": [{"version": "` + version + `", "locked": {"rev": "1111111111111111111111111111111111111111",
		  "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "lastModified": 1700000000}}]}]}`)
	}
	snapshot := func(t *testing.T, body []byte) []byte {
		m, err := index.Decode("index.json", body)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := index.MarshalSnapshot("index.json", m)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	for _, tc := range []struct {
		file string
		good func(t *testing.T, version string) []byte
		// bad is a file cut short, as a half-finished copy leaves it.
		bad    func(t *testing.T) []byte
		badLog string
	}{
		{"index.json", func(t *testing.T, v string) []byte { return flake(v) },
			func(t *testing.T) []byte { return []byte(`{"schema": 1, "flakes": [{"name": "mylib"`) }, `not a valid JSON index`},
		{"index.snap", func(t *testing.T, v string) []byte { return snapshot(t, flake(v)) },
			func(t *testing.T) []byte { s := snapshot(t, flake("3.0.0")); return s[:len(s)/2] }, `snapshot truncated: the header says the payload is`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			write := func(body []byte) {
				if err := os.WriteFile(path, body, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(tc.good(t, "1.0.0"))
			s := startServer(t, "--index", path)
			client := pb.NewResolverServiceClient(dial(t, s.addr))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			query := func() string {
				r, err := client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/mylib", Requirement: "*"})
				if err != nil {
					t.Fatal(err)
				}
				return versionsOf(r)
			}
			if got := query(); got != "1.0.0" {
				t.Fatalf("before reload: %q", got)
			}

			write(tc.bad(t))
			s.cmd.Process.Signal(syscall.SIGHUP)
			s.waitLog(t, `reload failed, keeping the indexes in service.*`+tc.badLog)
			if got := query(); got != "1.0.0" {
				t.Errorf("after a failed reload: %q, want the old index", got)
			}

			write(tc.good(t, "2.0.0"))
			s.cmd.Process.Signal(syscall.SIGHUP)
			s.waitLog(t, `msg=reloaded`)
			if got := query(); got != "2.0.0" {
				t.Errorf("after a good reload: %q, want 2.0.0", got)
			}
		})
	}
}

// TestResolveEndToEnd resolves over real gRPC: answers, conflict details,
// bad requests, and identical answers to concurrent calls.
func TestResolveEndToEnd(t *testing.T) {
	// The queue holds every one of the 32 concurrent calls below, and
	// the effort cap lets each finish its proof.
	s := startServer(t, "--max-solve-time", "2m", "--max-queued-solves", "32", "--max-effort", "1m")
	client := pb.NewResolverServiceClient(dial(t, s.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	desktop := &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{
		"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.34"},
		"nixpkgs":  {Url: "github:NixOS/nixpkgs/nixos-unstable", Version: "^0.1"},
		"hm":       {Url: "github:nix-community/home-manager", Inputs: map[string]*pb.Input{"nixpkgs": {Follows: proto.String("nixpkgs")}}},
	}}
	resp, err := client.ResolveInputs(ctx, desktop)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Paths["hyprland"].GetPin(); p.GetVersion() != "0.34.0" || p.Locked.GetRev() != "03ebbe18ed8517ee22591eac82cd54322f42cb7d" {
		t.Errorf("hyprland = %v", p)
	}
	if p := resp.Paths["hm/nixpkgs"]; strings.Join(p.GetFollows().GetNames(), "/") != "nixpkgs" {
		t.Errorf("hm/nixpkgs = %v, want a follows", p)
	}
	var nixpkgs int
	for _, n := range resp.Trees {
		if n.Flake == "nixpkgs" {
			nixpkgs++
		}
	}
	if nixpkgs != 1 || !resp.Stats.Proven {
		t.Errorf("%d nixpkgs trees, stats %v; want one, proven", nixpkgs, resp.Stats)
	}

	// No answer: FAILED_PRECONDITION with a Conflict detail.
	_, err = client.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.50"}}})
	errorInfo(t, err, codes.FailedPrecondition, "NO_ANSWER")
	if c := detail[*pb.Conflict](err); c == nil || len(c.Causes) != 1 || c.Causes[0].Flake != "hyprland" || c.Causes[0].Requirement != "^0.50" {
		t.Errorf("conflict detail = %v", c)
	}

	// Malformed: INVALID_ARGUMENT naming the field.
	_, err = client.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"x": {Url: "github:hyprwm/Hyprland", Version: ">= 1 <2"}}})
	if f := fieldOf(t, err, codes.InvalidArgument, "INVALID_REQUIREMENT"); f != "inputs.x.version" {
		t.Errorf("bad requirement: %v names %q", err, f)
	}
	_, err = client.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: desktop.Inputs, Timeout: durationpb.New(-time.Second)})
	if f := fieldOf(t, err, codes.InvalidArgument, "INVALID_REQUEST"); f != "timeout" {
		t.Errorf("negative timeout: %v names %q", err, f)
	}
	// Enum values the API does not define are refused, naming the field,
	// never read as the default.
	_, err = client.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: desktop.Inputs, Strategy: 99})
	if f := fieldOf(t, err, codes.InvalidArgument, "INVALID_REQUEST"); f != "strategy" || !strings.Contains(status.Convert(err).Message(), "unknown value 99") {
		t.Errorf("strategy 99: %v names %q", err, f)
	}
	_, err = client.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Context: &pb.ResolveInputsRequest{Inputs: desktop.Inputs, Strategy: 7}})
	if f := fieldOf(t, err, codes.InvalidArgument, "INVALID_REQUEST"); f != "context.strategy" {
		t.Errorf("context strategy 7: %v names %q", err, f)
	}

	// Concurrent resolutions give byte-identical answers (given the effort
	// to finish their proofs even under the race detector).
	desktop.Effort = durationpb.New(time.Minute)
	want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(withoutDuration(resp))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			r, err := client.ResolveInputs(ctx, desktop)
			if err != nil {
				errs <- err
				return
			}
			if got, _ := (proto.MarshalOptions{Deterministic: true}).Marshal(withoutDuration(r)); !bytes.Equal(got, want) {
				errs <- status.Error(codes.Internal, "a concurrent answer differs")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func withoutDuration(r *pb.ResolveInputsResponse) *pb.ResolveInputsResponse {
	c := proto.Clone(r).(*pb.ResolveInputsResponse)
	c.Stats.Duration, c.Stats.FirstAnswerDuration = nil, nil
	return c
}

// errorInfo checks a status's code and its ErrorInfo (domain
// flakeresolve.dev, reason) and returns the ErrorInfo.
func errorInfo(t *testing.T, err error, code codes.Code, reason string) *errdetails.ErrorInfo {
	t.Helper()
	st := status.Convert(err)
	info := detail[*errdetails.ErrorInfo](err)
	if st.Code() != code || info == nil || info.Domain != "flakeresolve.dev" || info.Reason != reason {
		t.Errorf("status %v with ErrorInfo %v; want %v, reason %s in domain flakeresolve.dev", st.Code(), info, code, reason)
		return &errdetails.ErrorInfo{}
	}
	return info
}

// fieldOf checks a status as errorInfo does and returns the field its
// BadRequest names, which its ErrorInfo's metadata names too.
func fieldOf(t *testing.T, err error, code codes.Code, reason string) string {
	t.Helper()
	info := errorInfo(t, err, code, reason)
	br := detail[*errdetails.BadRequest](err)
	if len(br.GetFieldViolations()) != 1 || br.FieldViolations[0].Field != info.Metadata["field"] {
		t.Errorf("BadRequest %v, ErrorInfo %v: want one violation, of the field the metadata names", br, info)
		return ""
	}
	return br.FieldViolations[0].Field
}

// detail is a status's detail of type T, or nil.
func detail[T any](err error) T {
	var zero T
	for _, d := range status.Convert(err).Details() {
		if d, ok := d.(T); ok {
			return d
		}
	}
	return zero
}

// TestLockThroughServer locks a flake through a real server over loopback
// and gets the bytes a local lock writes: the Resolve response carries
// everything a lock file needs.
func TestLockThroughServer(t *testing.T) {
	srv := startServer(t)
	flake := "{\n  inputs.hyprutils.url = \"github:hyprwm/hyprutils\";\n  inputs.data = { url = \"github:hyprwm/hyprlang\"; flake = false; };\n  outputs = { self, hyprutils, data }: { };\n}\n"
	versions := "{ inputs.hyprutils.version = \"^0.8\"; inputs.data.version = \"^0.6\"; }\n"
	locks := map[string]string{}
	for _, mode := range []string{"local", "server"} {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "flake.nix"), flake)
		writeFile(t, filepath.Join(dir, "flake.versions.nix"), versions)
		args := []string{"lock", dir}
		if mode == "server" {
			args = []string{"lock", "--server", srv.addr, dir}
		}
		mustRun(t, 0, args...)
		data, err := os.ReadFile(filepath.Join(dir, "flake.lock"))
		if err != nil {
			t.Fatal(err)
		}
		locks[mode] = string(data)
	}
	if locks["local"] != locks["server"] {
		t.Errorf("the lock through the server differs:\n%s\nlocal:\n%s", locks["server"], locks["local"])
	}
	if !strings.Contains(locks["server"], `"flake": false`) || strings.Contains(locks["server"], `"data": {
      "inputs"`) {
		t.Errorf("the flake = false input should be locked without inputs:\n%s", locks["server"])
	}
}

// TestLocalAndRemoteAgree runs each command once on local indexes and once
// through a real server over loopback and gets the same --json bytes, the
// same exit code and the same message, errors included: both are the one
// service, and the client reads statuses back into its errors. Only the
// durations of a resolution's statistics may differ, being times.
func TestLocalAndRemoteAgree(t *testing.T) {
	srv := startServer(t, "--max-solve-time", "2m")
	dir := t.TempDir()
	desktop := filepath.Join(dir, "desktop")
	writeFile(t, filepath.Join(desktop, "flake.nix"), `{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.hyprland.url = "github:hyprwm/Hyprland";
  inputs.hm.url = "github:nix-community/home-manager";
  inputs.hm.inputs.nixpkgs.follows = "nixpkgs";
  outputs = { self, nixpkgs, hyprland, hm }: { };
}
`)
	writeFile(t, filepath.Join(desktop, "flake.versions.nix"), `{ inputs.nixpkgs.version = "^0.1"; inputs.hyprland.version = "^0.34"; }`+"\n")
	file := func(name, body string) string {
		path := filepath.Join(dir, name)
		writeFile(t, path, body)
		return path
	}
	single := file("single.json", `{"inputs": {"hyprland": {"url": "github:hyprwm/Hyprland", "version": "^0.34"}}, "singleFlakes": ["hyprland-protocols"]}`)
	protocols := file("protocols.json", `{"inputs": {"hyprland": {"url": "github:hyprwm/Hyprland", "version": "^0.34"}, "hyprland-protocols": {"url": "github:hyprwm/hyprland-protocols", "version": "^0.7"}}}`)
	future := file("future.json", `{"inputs": {"hyprland": {"url": "github:hyprwm/Hyprland", "version": "^0.50"}}}`)
	unknownEnum := file("enum.json", `{"inputs": {"hyprland": {"url": "github:hyprwm/Hyprland", "version": "^0.34"}}, "strategy": 99}`)

	durations := regexp.MustCompile(`"(duration|firstAnswerDuration)": "[0-9.]+s"`)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"versions", []string{"query", "--json", "hyprutils", "^0.8"}, exitOK},
		{"versions with a context", []string{"query", "--json", "hyprland-protocols", "*", "--with", single}, exitOK},
		{"versions with a flake", []string{"query", "--json", "hyprutils", "*", "--with", desktop}, exitOK},
		{"why a flake", []string{"why", "--json", "nixpkgs", desktop}, exitOK},
		{"why a path", []string{"why", "--json", "hyprland/xdph/nixpkgs", desktop}, exitOK},
		{"resolve", []string{"resolve", "--json", "--effort", "1m", protocols}, exitOK},
		{"unknown flake", []string{"query", "--json", "hyprutil", "*"}, exitNotFound},
		{"bad requirement", []string{"query", "--json", "hyprutils", ">= 1 <2"}, exitUsage},
		{"unknown strategy", []string{"resolve", "--json", unknownEnum}, exitUsage},
		{"no answer", []string{"resolve", "--json", future}, exitConflict},
		{"no answer, single", []string{"resolve", "--json", "--single", "hyprland-protocols", protocols}, exitConflict},
		{"no answer, why", []string{"why", "--json", "hyprland", future}, exitConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out [2]struct{ stdout, stderr bytes.Buffer }
			for i, args := range [][]string{tc.args, append([]string{tc.args[0], "--server", srv.addr}, tc.args[1:]...)} {
				if code := run(args, &out[i].stdout, &out[i].stderr); code != tc.code {
					t.Fatalf("flakeresolve %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, tc.code, out[i].stdout.String(), out[i].stderr.String())
				}
			}
			local, remote := out[0].stdout.String(), out[1].stdout.String()
			if tc.args[0] == "resolve" && tc.code == exitOK {
				local, remote = durations.ReplaceAllString(local, "TIME"), durations.ReplaceAllString(remote, "TIME")
			}
			if local == "" || local != remote {
				t.Errorf("--json differs (or is empty):\nlocal:\n%s\nremote:\n%s", local, remote)
			}
			if l, r := out[0].stderr.String(), out[1].stderr.String(); l != r {
				t.Errorf("messages differ:\nlocal:  %s\nremote: %s", l, r)
			}
		})
	}
}
