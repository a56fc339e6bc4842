package server

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// TestIndexDigest: health checks (Check and Watch) and calls carry the
// digest served in their header, it follows a swap, and a client pinned
// to a digest no longer served is refused with both digests, read back
// as the service's typed error.
func TestIndexDigest(t *testing.T) {
	snapA, err := service.ParseLayers([]service.Layer{{Origin: "a.json", Data: []byte(privateIndex)}})
	if err != nil {
		t.Fatal(err)
	}
	snapB, err := service.ParseLayers([]service.Layer{{Origin: "a.json", Data: []byte(privateIndex + "\n")}})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(snapA.Layers, service.Config{})
	svc.Swap(snapA.Layers, snapA.Digest)
	srv := NewGRPCServer(svc, Options{MaxRecvBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	ctx := ctxFor(t)

	pinned, err := Dial(lis.Addr().String(), ClientOptions{IndexDigest: snapA.Digest})
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	health := healthpb.NewHealthClient(pinned.Conn())
	var md metadata.MD
	if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md)); err != nil || !equal(md, snapA.Digest) {
		t.Errorf("Check: header %v, %v; want digest %s", md, err, snapA.Digest)
	}
	watch, err := health.Watch(ctx, &healthpb.HealthCheckRequest{Service: pb.ResolverService_ServiceDesc.ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := watch.Recv(); err != nil || st.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v, %v; want SERVING", st, err)
	}
	if md, err := watch.Header(); err != nil || !equal(md, snapA.Digest) {
		t.Errorf("Watch: header %v, %v; want digest %s", md, err, snapA.Digest)
	}
	if _, err := pinned.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/acme-secret-tool"}); err != nil {
		t.Fatalf("pinned to the digest served: %v", err)
	}

	svc.Swap(snapB.Layers, snapB.Digest)
	_, err = pinned.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/acme-secret-tool"})
	var ic *service.IndexChangedError
	if !errors.As(err, &ic) || ic.Wanted != snapA.Digest || ic.Served != snapB.Digest {
		t.Fatalf("pinned to a digest no longer served: %v; want IndexChangedError %s -> %s", err, snapA.Digest, snapB.Digest)
	}
	rpc := pb.NewResolverServiceClient(pinned.Conn())
	md = nil
	rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/acme-secret-tool"}, grpc.Header(&md))
	if !equal(md, snapB.Digest) {
		t.Errorf("a refusal's header %v; want the digest served, %s", md, snapB.Digest)
	}
	if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md)); err != nil || !equal(md, snapB.Digest) {
		t.Errorf("Check after the swap: header %v, %v; want digest %s (a pin binds the service's calls only)", md, err, snapB.Digest)
	}
}

func equal(md metadata.MD, digest string) bool {
	got := md.Get(IndexDigestKey)
	return len(got) == 1 && got[0] == digest && digest != ""
}

// TestIndexDigestIsSha256sum: the digest of one index file is what
// coreutils' sha256sum says of the file, so an operator can match it to
// the file published; of two layers, that of the two files concatenated.
func TestIndexDigestIsSha256sum(t *testing.T) {
	// coreutils is on every machine the tests run on: a missing
	// sha256sum is a broken machine, not a reason to pass.
	sum, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	os.WriteFile(a, []byte(privateIndex), 0o644)
	os.WriteFile(b, []byte(privateIndex+"\n\n"), 0o644)
	for _, files := range [][]string{{a}, {a, b}} {
		var layers []service.Layer
		for _, f := range files {
			data, _ := os.ReadFile(f)
			layers = append(layers, service.Layer{Origin: f, Data: data})
		}
		snap, err := service.ParseLayers(layers)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("sh", append([]string{"-c", `cat "$@" | "$0"`, sum}, files...)...).Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Fields(string(out))[0]; snap.Digest != want {
			t.Errorf("digest of %d layers %s; sha256sum says %s", len(files), snap.Digest, want)
		}
	}
}
