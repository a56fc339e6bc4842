package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// requestCodec is gRPC's proto codec, except that a request of the API
// that does not decode is no error of the codec's: gRPC answers a
// decoding error INTERNAL itself, before the handler or any interceptor
// runs, so the request was neither logged nor the client's fault. The
// error is kept for the message instead, and decodeErrors takes it back.
// Other messages (health checks) fail as they always did, so nothing is
// kept that no one takes.
type requestCodec struct {
	encoding.CodecV2
	failed sync.Map // request message → its decoding error
}

func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err != nil && isRequest(v) {
		c.failed.Store(v, err)
		return nil
	}
	return err
}

// isRequest says whether v is a request message of the API.
func isRequest(v any) bool {
	m, ok := v.(proto.Message)
	return ok && strings.HasPrefix(string(m.ProtoReflect().Descriptor().FullName()), string(pb.File_flakeresolve_v1_resolver_proto.Package())+".")
}

// takeError is the decoding error kept for v, if any, forgotten once
// taken.
func (c *requestCodec) takeError(v any) error {
	if err, ok := c.failed.LoadAndDelete(v); ok {
		return err.(error)
	}
	return nil
}

// decodeErrors makes a request that is not the method's message (bytes
// that do not decode) an INVALID_ARGUMENT of the service's, as any other
// malformed request, and passes it through the interceptors, which log
// and count it.
func decodeErrors(desc grpc.ServiceDesc, codec *requestCodec) grpc.ServiceDesc {
	desc.Methods = slices.Clone(desc.Methods)
	for i, m := range desc.Methods {
		handler, full := m.Handler, "/"+desc.ServiceName+"/"+m.MethodName
		desc.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			var bad error
			resp, err := handler(srv, ctx, func(v any) error {
				err := dec(v)
				if err == nil {
					err = codec.takeError(v)
				} else {
					codec.takeError(v)
				}
				if err != nil {
					name := string(v.(proto.Message).ProtoReflect().Descriptor().FullName())
					bad = Status(&service.FieldError{Field: "request", Msg: fmt.Sprintf("not a valid %s message: %v", name, err)}).Err()
					return bad
				}
				return nil
			}, ic)
			if bad != nil {
				return ic(ctx, nil, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, func(context.Context, any) (any, error) { return nil, bad })
			}
			return resp, err
		}
	}
	return desc
}
