package server

import (
	"context"

	"google.golang.org/grpc"
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

// Dial prepares calls to the server at addr (host:port, plaintext); it
// connects on the first call.
func Dial(addr string) (*Client, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
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
