package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// face is a gRPC server on a loopback port and the HTTP face in front of
// it on another, both over the same service.
type face struct {
	rpc  pb.ResolverServiceClient
	http string // base URL
}

func serve(t *testing.T, layers *index.Layers, minNix flakeref.NixVersion) face {
	t.Helper()
	return serveWith(t, layers, minNix, service.Config{}, server.Options{})
}

// serveWith serves the layers with the service's configuration and the
// server's options: over TLS, HTTP too, when opts ask for it (face.rpc is
// then left nil).
func serveWith(t *testing.T, layers *index.Layers, minNix flakeref.NixVersion, cfg service.Config, opts server.Options) face {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.MaxRecvBytes = cmp.Or(opts.MaxRecvBytes, 1<<20)
	opts.Logger = cmp.Or(opts.Logger, quiet)
	svc := service.New(layers, cfg)
	gs := server.NewGRPCServer(svc, opts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, stop, err := gs.InProcess()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	h, err := Handler(context.Background(), conn, Options{Layers: svc.LayersOf, Caller: gs.HTTPContext, Log: gs.LogHTTP, MinNix: minNix, MaxBodyBytes: 1 << 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(h)
	hs.Config.ErrorLog = slog.NewLogLogger(quiet.Handler(), slog.LevelWarn)
	t.Cleanup(hs.Close)
	if opts.TLS != nil {
		hs.TLS = opts.TLS
		hs.StartTLS()
		return face{http: hs.URL}
	}
	hs.Start()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return face{rpc: pb.NewResolverServiceClient(cc), http: hs.URL}
}

func defaultLayers(t *testing.T) *index.Layers {
	t.Helper()
	ix, err := defaultindex.Load()
	if err != nil {
		t.Fatal(err)
	}
	return index.NewLayers(ix)
}

// noRedirects is a client that reports a redirect rather than follow it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := noRedirects.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestJSONRoutesAnswerAsGRPC calls every JSON route as curl would and the
// same method over gRPC, and requires the same answer: the same message,
// or the same status (code, message, details) with the gateway's HTTP
// code for it.
func TestJSONRoutesAnswerAsGRPC(t *testing.T) {
	f := serve(t, defaultLayers(t), flakeref.NixEvery)
	ctx := context.Background()
	resolve := `{"inputs": {"hyprland": {"url": "github:hyprwm/Hyprland", "version": "^0.34"}}, "effort": "0.2s"}`
	conflict := `{"inputs": {"hyprland": {"url": "github:hyprwm/Hyprland", "version": "^0.34"}, "hyprland-protocols": {"url": "github:hyprwm/hyprland-protocols", "version": "^0.7"}}, "singleFlakes": ["hyprland-protocols"]}`
	for _, tc := range []struct {
		name, method, path, body string
		call                     func(context.Context, []byte) (proto.Message, error)
		resp                     proto.Message
	}{
		{"list", "GET", "/v1/flakes/hyprutils/versions?requirement=%5E0.8&pageSize=2", "", func(ctx context.Context, _ []byte) (proto.Message, error) {
			return f.rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "^0.8", PageSize: 2})
		}, &pb.ListVersionsResponse{}},
		{"list with a context", "POST", "/v1/flakes/hyprland-protocols/versions:choose", `{"requirement": "*", "context": ` + resolve + `}`, rpcOf(f.rpc.ListVersions, func(r *pb.ListVersionsRequest) { r.Parent = "flakes/hyprland-protocols" }), &pb.ListVersionsResponse{}},
		{"unknown flake", "GET", "/v1/flakes/hyprutil/versions", "", func(ctx context.Context, _ []byte) (proto.Message, error) {
			return f.rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutil"})
		}, nil},
		{"bad requirement", "GET", "/v1/flakes/hyprutils/versions?requirement=%5E0.8x", "", func(ctx context.Context, _ []byte) (proto.Message, error) {
			return f.rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "^0.8x"})
		}, nil},
		{"resolve", "POST", "/v1/inputs:resolve", resolve, rpcOf(f.rpc.ResolveInputs, nil), &pb.ResolveInputsResponse{}},
		{"conflict", "POST", "/v1/inputs:resolve", conflict, rpcOf(f.rpc.ResolveInputs, nil), nil},
		{"bad field", "POST", "/v1/inputs:resolve", `{"inputs": {"x": {"url": "github:a"}}}`, rpcOf(f.rpc.ResolveInputs, nil), nil},
		{"explain", "POST", "/v1/inputs:explain", `{"resolveRequest": ` + resolve + `, "flake": "nixpkgs"}`, rpcOf(f.rpc.ExplainInputs, nil), &pb.ExplainInputsResponse{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.http+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want, werr := tc.call(ctx, []byte(tc.body))
			compare(t, resp.StatusCode, body, tc.resp, want, werr)
			if tc.name == "list" {
				// The next page, by the token the JSON route returned.
				var first pb.ListVersionsResponse
				if err := protojson.Unmarshal(body, &first); err != nil || first.NextPageToken == "" {
					t.Fatalf("first page: %v, token %q", err, first.NextPageToken)
				}
				resp, body := get(t, f.http+"/v1/flakes/hyprutils/versions?requirement=%5E0.8&pageSize=2&pageToken="+url.QueryEscape(first.NextPageToken))
				want, werr := f.rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "^0.8", PageSize: 2, PageToken: first.NextPageToken})
				compare(t, resp.StatusCode, body, &pb.ListVersionsResponse{}, want, werr)
			}
		})
	}
}

// rpcOf is a gRPC call of the request a JSON body spells, changed by
// fill (the fields an HTTP route takes from its path).
func rpcOf[R any, P interface {
	*R
	proto.Message
}, A proto.Message](do func(context.Context, P, ...grpc.CallOption) (A, error), fill func(P)) func(context.Context, []byte) (proto.Message, error) {
	return func(ctx context.Context, body []byte) (proto.Message, error) {
		req := P(new(R))
		if err := protojson.Unmarshal(body, req); err != nil {
			return nil, err
		}
		if fill != nil {
			fill(req)
		}
		return do(ctx, req)
	}
}

// compare checks an HTTP answer against the gRPC one. Durations in stats
// differ from call to call, so answers are compared without them.
func compare(t *testing.T, code int, body []byte, into proto.Message, want proto.Message, werr error) {
	t.Helper()
	if werr != nil {
		st := status.Convert(werr)
		var got spb.Status
		if err := protojson.Unmarshal(body, &got); err != nil {
			t.Fatalf("HTTP %d, body is no google.rpc.Status: %v\n%s", code, err, body)
		}
		if code != runtime.HTTPStatusFromCode(st.Code()) || !sameStatus(&got, st.Proto()) {
			t.Errorf("HTTP %d %s\ngRPC %v (HTTP %d) %v", code, body, st.Code(), runtime.HTTPStatusFromCode(st.Code()), st.Proto())
		}
		if len(got.Details) == 0 {
			t.Errorf("the status has no details: %s", body)
		}
		return
	}
	if code != http.StatusOK || into == nil {
		t.Fatalf("HTTP %d %s; gRPC answered", code, body)
	}
	if err := protojson.Unmarshal(body, into); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	clearDurations(into)
	clearDurations(want)
	if !proto.Equal(into, want) {
		t.Errorf("HTTP answer differs from gRPC's:\n%v\n%v", into, want)
	}
}

// sameStatus compares statuses by their unpacked details: a detail's
// bytes may order a map's entries differently from one marshalling to the
// next.
func sameStatus(a, b *spb.Status) bool {
	if a.Code != b.Code || a.Message != b.Message || len(a.Details) != len(b.Details) {
		return false
	}
	for i := range a.Details {
		da, aerr := a.Details[i].UnmarshalNew()
		db, berr := b.Details[i].UnmarshalNew()
		if aerr != nil || berr != nil || !proto.Equal(da, db) {
			return false
		}
	}
	return true
}

func clearDurations(m proto.Message) {
	switch m := m.(type) {
	case *pb.ResolveInputsResponse:
		m.Stats.Duration, m.Stats.FirstAnswerDuration = nil, nil
	}
}

// TestBodyLimit: a body over the limit is refused before it is decoded.
func TestBodyLimit(t *testing.T) {
	f := serve(t, defaultLayers(t), flakeref.NixEvery)
	big := `{"inputs": {"x": {"url": "` + strings.Repeat("a", 2<<20) + `"}}}`
	resp, err := http.Post(f.http+"/v1/inputs:resolve", "application/json", bytes.NewReader([]byte(big)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("a 2 MiB body: HTTP %d, want a 4xx refusal", resp.StatusCode)
	}
}
