package server

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// IndexDigestKey is the metadata key of the index digest
// (service.IndexDigest): every response's header carries the digest that
// answered it, and a request that carries one is answered only from that
// snapshot (refused INDEX_CHANGED otherwise), so a client can keep a
// session on one snapshot while replicas roll to the next.
const IndexDigestKey = "flakeresolve-index-digest"

// resolverPrefix is the method prefix of the calls a pinned digest
// applies to; health checks and reflection answer whatever is served.
var resolverPrefix = "/" + pb.ResolverService_ServiceDesc.ServiceName + "/"

// unaryDigest binds every call to the snapshot served when it arrives,
// reports that snapshot's digest in the response header, and refuses a
// call of the service pinned to another digest.
func unaryDigest(svc *service.Service) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var wanted string
		if strings.HasPrefix(info.FullMethod, resolverPrefix) {
			if v := metadata.ValueFromIncomingContext(ctx, IndexDigestKey); len(v) > 0 {
				wanted = v[0]
			}
		}
		ctx, digest, err := svc.Bind(ctx, wanted)
		grpc.SetHeader(ctx, metadata.Pairs(IndexDigestKey, digest))
		if err != nil {
			return nil, Status(err).Err()
		}
		return handler(ctx, req)
	}
}

// streamDigest reports the digest served when a stream (a health Watch)
// starts in its header.
func streamDigest(svc *service.Service) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ss.SetHeader(metadata.Pairs(IndexDigestKey, svc.Digest()))
		return handler(srv, ss)
	}
}
