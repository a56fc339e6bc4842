package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	// Registers the client side of health checking, which the service
	// config's healthCheckConfig turns on.
	_ "google.golang.org/grpc/health"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Client calls the service of a remote server. Its methods are the
// service's, and fail with the service's typed errors (read back from the
// statuses by their ErrorInfo reasons), or with a *RemoteError when the
// server cannot be reached or is not the service.
type Client struct {
	addr string
	conn *grpc.ClientConn
	rpc  pb.ResolverServiceClient
}

// ClientOptions say how to reach a server: over TLS (nil: plaintext),
// with a bearer token (sent only over TLS).
type ClientOptions struct {
	TLS   *tls.Config
	Token string
	// IndexDigest, when set, pins every call to that index snapshot: a
	// server serving another refuses with *service.IndexChangedError.
	IndexDigest string
}

// serviceConfig spreads calls over every address of the target with
// gRPC's round_robin, sends them only to servers whose health check says
// the service is SERVING (a server is not before its index is loaded,
// nor once it shuts down), and retries a call refused UNAVAILABLE on
// another (a server gone mid-call, or a proxy with no server behind it).
// Every method only reads, so a retry repeats nothing.
var serviceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": "` + pb.ResolverService_ServiceDesc.ServiceName + `"},
  "methodConfig": [{
    "name": [{"service": "` + pb.ResolverService_ServiceDesc.ServiceName + `"}],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.05s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`

// Dial prepares calls to the servers at addr: one host:port, several
// comma-separated (replicas, balanced by the client), or a gRPC target
// such as dns:///name:port (every address the name resolves to). It
// connects on the first call, and accepts answers up to MaxMessageBytes,
// what a server sends.
func Dial(addr string, o ClientOptions) (*Client, error) {
	creds := insecure.NewCredentials()
	if o.TLS != nil {
		creds = credentials.NewTLS(o.TLS)
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes)),
		grpc.WithDefaultServiceConfig(serviceConfig),
	}
	if o.Token != "" {
		if o.TLS == nil {
			return nil, fmt.Errorf("a bearer token is sent only over TLS; give the server's CA (--tls-ca)")
		}
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer(o.Token)))
	}
	if o.IndexDigest != "" {
		dopts = append(dopts, grpc.WithUnaryInterceptor(pinDigest(o.IndexDigest)))
	}
	target := addr
	if strings.Contains(addr, ",") {
		var err error
		target, dopts, err = replicas(addr, dopts)
		if err != nil {
			return nil, err
		}
	}
	conn, err := grpc.NewClient(target, dopts...)
	if err != nil {
		return nil, err
	}
	return &Client{addr: addr, conn: conn, rpc: pb.NewResolverServiceClient(conn)}, nil
}

// replicas resolves a comma-separated list of host:port to itself, through
// a resolver of the connection's own.
func replicas(list string, dopts []grpc.DialOption) (string, []grpc.DialOption, error) {
	var state resolver.State
	for a := range strings.SplitSeq(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return "", nil, fmt.Errorf("server list %q: an empty address; expected host:port[,host:port...]", list)
		}
		state.Addresses = append(state.Addresses, resolver.Address{Addr: a})
	}
	r := manual.NewBuilderWithScheme("flakeresolve-replicas")
	r.InitialState(state)
	return r.Scheme() + ":///replicas", append(dopts, grpc.WithResolvers(r)), nil
}

// pinDigest sends the pinned index digest with every call.
func pinDigest(digest string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.AppendToOutgoingContext(ctx, IndexDigestKey, digest), method, req, reply, cc, opts...)
	}
}

// Conn is the connection, for calls that need gRPC's call options (the
// response header with the index digest, the peer that answered).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) ListVersions(ctx context.Context, req *pb.ListVersionsRequest) (*pb.ListVersionsResponse, error) {
	resp, err := c.rpc.ListVersions(ctx, req)
	if err != nil {
		return nil, errorOf(c.addr, err)
	}
	return resp, nil
}

func (c *Client) ResolveInputs(ctx context.Context, req *pb.ResolveInputsRequest) (*pb.ResolveInputsResponse, error) {
	resp, err := c.rpc.ResolveInputs(ctx, req)
	if err != nil {
		return nil, errorOf(c.addr, err)
	}
	return resp, nil
}

func (c *Client) ExplainInputs(ctx context.Context, req *pb.ExplainInputsRequest) (*pb.ExplainInputsResponse, error) {
	resp, err := c.rpc.ExplainInputs(ctx, req)
	if err != nil {
		return nil, errorOf(c.addr, err)
	}
	return resp, nil
}

// bearer sends a token as "authorization: Bearer TOKEN" metadata.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity keeps a token off plaintext connections.
func (bearer) RequireTransportSecurity() bool { return true }
