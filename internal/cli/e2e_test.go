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

func versionsOf(r *pb.QueryResponse) string {
	var vs []string
	for _, v := range r.Versions {
		vs = append(vs, v.Version)
	}
	return strings.Join(vs, " ")
}

func TestServeEndToEnd(t *testing.T) {
	s := startServer(t)
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
	resp, err := client.Query(ctx, &pb.QueryRequest{Name: "hyprutils", Requirement: "^0.8"})
	if err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(resp); got != "0.8.4 0.8.3 0.8.2 0.8.1 0.8.0" || resp.TotalVersions != 40 {
		t.Errorf("Query(hyprutils ^0.8) = %q of %d", got, resp.TotalVersions)
	}
	if l := resp.Versions[0].Locked; l.Rev != "b2ae3204845f5f2f79b4703b441252d8ad2ecfd0" || l.Owner != "hyprwm" {
		t.Errorf("locked = %v", l)
	}

	_, err = client.Query(ctx, &pb.QueryRequest{Name: "hyprutil", Requirement: "*"})
	if st := status.Convert(err); st.Code() != codes.NotFound || !strings.Contains(st.Message(), "closest: hyprutils") {
		t.Errorf("unknown flake: %v", err)
	}
	_, err = client.Query(ctx, &pb.QueryRequest{Name: "hyprutils", Requirement: ">= 1 <2"})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "at column 6") {
		t.Errorf("bad requirement: %v", err)
	}
	if len(st.Details()) != 1 || st.Details()[0].(*errdetails.BadRequest).FieldViolations[0].Field != "requirement" {
		t.Errorf("bad requirement details = %v, want a BadRequest naming the requirement field", st.Details())
	}

	// The request size limit (1 MiB by default).
	_, err = client.Query(ctx, &pb.QueryRequest{Name: strings.Repeat("x", 2<<20), Requirement: "*"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("2 MiB request: %v, want ResourceExhausted", err)
	}

	// Concurrent calls all get the same answer.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			r, err := client.Query(ctx, &pb.QueryRequest{Name: "nixpkgs", Requirement: "^0.2405"})
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
				r, err := client.Query(ctx, &pb.QueryRequest{Name: "mylib", Requirement: "*"})
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
	s := startServer(t, "--max-solve-time", "2m")
	client := pb.NewResolverServiceClient(dial(t, s.addr))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	desktop := &pb.ResolveRequest{Inputs: map[string]*pb.Input{
		"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.34"},
		"nixpkgs":  {Url: "github:NixOS/nixpkgs/nixos-unstable", Version: "^0.1"},
		"hm":       {Url: "github:nix-community/home-manager", Inputs: map[string]*pb.Input{"nixpkgs": {Follows: proto.String("nixpkgs")}}},
	}}
	resp, err := client.Resolve(ctx, desktop)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Paths["hyprland"]; p.GetVersion() != "0.34.0" || p.Locked.GetRev() != "03ebbe18ed8517ee22591eac82cd54322f42cb7d" {
		t.Errorf("hyprland = %v", p)
	}
	if p := resp.Paths["hm/nixpkgs"]; strings.Join(p.GetFollows().GetNames(), "/") != "nixpkgs" {
		t.Errorf("hm/nixpkgs = %v, want a follows", p)
	}
	var nixpkgs int
	for _, n := range resp.Nodes {
		if n.Flake == "nixpkgs" {
			nixpkgs++
		}
	}
	if nixpkgs != 1 || !resp.Stats.Proven {
		t.Errorf("%d nixpkgs trees, stats %v; want one, proven", nixpkgs, resp.Stats)
	}

	// No answer: FAILED_PRECONDITION with a Conflict detail.
	_, err = client.Resolve(ctx, &pb.ResolveRequest{Inputs: map[string]*pb.Input{"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.50"}}})
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || len(st.Details()) != 1 {
		t.Fatalf("conflict: %v", err)
	}
	if c := st.Details()[0].(*pb.Conflict); len(c.Causes) != 1 || !strings.Contains(c.Causes[0], "no version of hyprland matches ^0.50") || len(c.Suggestions) != 1 {
		t.Errorf("conflict detail = %v", c)
	}

	// Malformed: INVALID_ARGUMENT naming the field.
	_, err = client.Resolve(ctx, &pb.ResolveRequest{Inputs: map[string]*pb.Input{"x": {Url: "github:hyprwm/Hyprland", Version: ">= 1 <2"}}})
	st = status.Convert(err)
	if st.Code() != codes.InvalidArgument || st.Details()[0].(*errdetails.BadRequest).FieldViolations[0].Field != "inputs.x.version" {
		t.Errorf("bad requirement: %v %v", err, st.Details())
	}
	_, err = client.Resolve(ctx, &pb.ResolveRequest{Inputs: desktop.Inputs, Timeout: durationpb.New(-time.Second)})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("negative timeout: %v", err)
	}

	// Concurrent resolutions give byte-identical answers (given the effort
	// to finish their proofs even under the race detector).
	desktop.Effort = durationpb.New(time.Minute)
	want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(withoutDuration(resp))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			r, err := client.Resolve(ctx, desktop)
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

func withoutDuration(r *pb.ResolveResponse) *pb.ResolveResponse {
	c := proto.Clone(r).(*pb.ResolveResponse)
	c.Stats.Duration, c.Stats.FirstAnswer = nil, nil
	return c
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
