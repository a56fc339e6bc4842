package cli

import (
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"runtime/debug"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/stablejson"
	"github.com/flakeresolve/flakeresolve/internal/tlsconf"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
	"github.com/spf13/cobra"
)

// api is the service's operations, answered in-process (*service.Service)
// or by a server (*server.Client); both fail with the same typed errors.
type api interface {
	ListVersions(context.Context, *pb.ListVersionsRequest) (*pb.ListVersionsResponse, error)
	ResolveInputs(context.Context, *pb.ResolveInputsRequest) (*pb.ResolveInputsResponse, error)
	ExplainInputs(context.Context, *pb.ExplainInputsRequest) (*pb.ExplainInputsResponse, error)
}

// resolveClient is where one command's calls go: the server at addr, or
// local indexes (the embedded one when none are named) in a service of
// its own, configured by the user's flags alone (no cap of its own on
// time). It connects or loads on first use, once for the command.
type resolveClient struct {
	remote  serverFlags
	indexes []string
	// registries are --registry files, read before the index names.
	registries []string
	api        api
	conn       *server.Client
}

func (c *resolveClient) get() (api, error) {
	if c.api != nil {
		return c.api, nil
	}
	if c.remote.addr != "" {
		if len(c.registries) > 0 {
			return nil, usageErr("--server and --registry exclude each other: a server reads its own registries (serve --registry)")
		}
		cl, err := c.remote.dial()
		if err != nil {
			return nil, &exitErr{exitError, err}
		}
		c.api, c.conn = cl, cl
		return c.api, nil
	}
	oneShotGC()
	layers, err := service.LoadLayers(c.indexes, defaultindex.Load)
	if err != nil {
		return nil, &exitErr{exitError, err}
	}
	indirect, err := registryLookup(c.registries)
	if err != nil {
		return nil, err
	}
	c.api = service.New(layers, service.Config{Indirect: indirect})
	return c.api, nil
}

// serverFlags are the flags of a command that can ask a server: where,
// and how to trust it and be known to it.
type serverFlags struct {
	addr, ca, token, cert, key string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "server", "", "ask the server at `ADDR` (host:port) instead of a local index; several comma-separated, or dns:///NAME:PORT, are replicas: calls are spread round robin over the healthy ones and retried on another when one is unavailable")
	fl.StringVar(&f.ca, "tls-ca", "", "with --server: connect over TLS, trusting the server's certificate if this CA `FILE` (PEM) signed it")
	fl.StringVar(&f.token, "token", "", "with --server and --tls-ca: the bearer `TOKEN` that names you to the server (default: $FLAKERESOLVE_TOKEN)")
	fl.StringVar(&f.cert, "tls-cert", "", "with --tls-ca: a client certificate `FILE` (PEM) for servers that require mutual TLS")
	fl.StringVar(&f.key, "tls-key", "", "with --tls-cert: its private key `FILE` (PEM)")
}

// dial prepares calls to the server the flags name.
func (f *serverFlags) dial() (*server.Client, error) {
	var o server.ClientOptions
	if f.token = cmp.Or(f.token, os.Getenv("FLAKERESOLVE_TOKEN")); f.token != "" {
		o.Token = f.token
	}
	if f.ca == "" {
		if f.cert != "" {
			return nil, usageErr("--tls-cert needs --tls-ca, the CA that signed the server's certificate")
		}
		return server.Dial(f.addr, o)
	}
	var err error
	if o.TLS, err = tlsconf.Client(f.ca, f.cert, f.key); err != nil {
		return nil, err
	}
	return server.Dial(f.addr, o)
}

// close releases a server connection.
func (c *resolveClient) close() {
	if c.conn != nil {
		c.conn.Close()
	}
}

// call resolves a request.
func (c *resolveClient) call(ctx context.Context, req *pb.ResolveInputsRequest) (*pb.ResolveInputsResponse, error) {
	a, err := c.get()
	if err != nil {
		return nil, err
	}
	return a.ResolveInputs(ctx, req)
}

// oneShotGC trades memory for time in a process that loads an index,
// answers once and exits: loading a large index allocates hundreds of
// megabytes that stay live, and collecting while they are built is wasted
// work. The collector runs only when the heap nears 1 GiB.
func oneShotGC() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(1 << 30)
}

// exitCodes is the one table from the errors of the service and of the
// command line to exit codes: the first row that matches wins.
var exitCodes = []struct {
	code int
	is   func(error) bool
}{
	{exitUsage, isA[*service.FieldError]},
	{exitNotFound, isA[*index.NotFoundError]},
	{exitConflict, isA[*solver.ConflictError]},
	{exitError, isA[*solver.LimitError]},
	{exitError, isA[*server.RemoteError]},
}

func isA[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// exitCode is the exit status for an error: the code the command line
// attached, else the table's.
func exitCode(err error) int {
	var ee *exitErr
	if errors.As(err, &ee) {
		return ee.code
	}
	for _, row := range exitCodes {
		if row.is(err) {
			return row.code
		}
	}
	// cobra's own errors are about flags and arguments.
	return exitUsage
}

// isServiceError says the error is one the API returns as a status.
func isServiceError(err error) bool {
	for _, row := range exitCodes {
		if row.is(err) {
			return true
		}
	}
	return false
}

// printJSON writes a message as the command's --json output: exactly the
// service's answer in protojson, versioned with the API (flakeresolve.v1).
func printJSON(w io.Writer, m proto.Message) error {
	data, err := stablejson.Marshal(m)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// answer prints a command's answer on w: with --json, the service's
// message, or for an error of the service the status the API returns for
// it (google.rpc.Status with its details, in protojson), whose text and
// exit code then follow as without --json; else the text that text
// writes.
func answer(w io.Writer, asJSON bool, resp proto.Message, err error, text func(io.Writer) error) error {
	switch {
	case err != nil && asJSON && isServiceError(err):
		if perr := printJSON(w, server.Status(err).Proto()); perr != nil {
			return perr
		}
		return err
	case err != nil:
		return err
	case asJSON:
		return printJSON(w, resp)
	}
	return text(w)
}
