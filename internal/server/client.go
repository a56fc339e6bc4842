package server

import (
	"context"
	"crypto/tls"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

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
}

// Dial prepares calls to the server at addr (host:port); it connects on
// the first call. It accepts answers up to MaxMessageBytes, what a server
// sends.
func Dial(addr string, o ClientOptions) (*Client, error) {
	creds := insecure.NewCredentials()
	if o.TLS != nil {
		creds = credentials.NewTLS(o.TLS)
	}
	dopts := []grpc.DialOption{grpc.WithTransportCredentials(creds), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes))}
	if o.Token != "" {
		if o.TLS == nil {
			return nil, fmt.Errorf("a bearer token is sent only over TLS; give the server's CA (--tls-ca)")
		}
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer(o.Token)))
	}
	conn, err := grpc.NewClient(addr, dopts...)
	if err != nil {
		return nil, err
	}
	return &Client{addr: addr, conn: conn, rpc: pb.NewResolverServiceClient(conn)}, nil
}

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
