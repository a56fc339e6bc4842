package server

import (
	"context"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/flakeresolve/flakeresolve/internal/service"
)

// The metadata keys by which a call of the HTTP face carries its caller
// and its client's address to the in-process server. They are trusted
// only there: the public server never reads them, and the face sets them
// on every call, over whatever a request's headers asked for.
const (
	inProcessCaller = "flakeresolve-http-caller"
	inProcessPeer   = "flakeresolve-http-peer"
)

type httpPeerKey struct{}

// InProcess connects another face of this process (the HTTP face,
// internal/httpapi) to the service through a gRPC server of its own in
// memory: its calls pass the same request size limit, decoding and
// bounded access log as gRPC calls (counted under the face "http"), and
// reach the same service, so the same limits, admission queue and
// per-caller layers. The face names each caller itself (HTTPContext), as
// the public server would; the in-memory server, which nothing outside
// the process reaches and which serves no TLS, takes the caller from the
// call. stop closes the connection and stops that server.
func (s *Server) InProcess() (conn *grpc.ClientConn, stop func(), err error) {
	gs := newServer(s.svc, s.opts, s.httpLog, trustCaller)
	lis := bufconn.Listen(1 << 20)
	go gs.Serve(lis)
	conn, err = grpc.NewClient("passthrough:///in-process",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes)),
		grpc.WithUnaryInterceptor(passCaller))
	if err != nil {
		gs.Stop()
		return nil, nil, err
	}
	return conn, func() {
		conn.Close()
		gs.Stop()
	}, nil
}

// passCaller sends the caller and client address HTTPContext put into
// the context, replacing any value of those keys the call's metadata has.
func passCaller(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(inProcessCaller, service.CallerOf(ctx))
	addr, _ := ctx.Value(httpPeerKey{}).(string)
	md.Set(inProcessPeer, addr)
	return invoker(metadata.NewOutgoingContext(ctx, md), method, req, reply, cc, opts...)
}

// trustCaller is the in-process server's authenticate: the caller is the
// one the HTTP face named.
func trustCaller(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	first := func(key string) string {
		if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if slot, ok := ctx.Value(callSlotKey{}).(*callSlot); ok {
		slot.peer = first(inProcessPeer)
	}
	return handler(withCaller(ctx, first(inProcessCaller)), req)
}
