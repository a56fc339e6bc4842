package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flakeresolve/flakeresolve/internal/flakenix"
	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// callerInputs are the inputs why and query --with resolve: a flake
// directory read as lock reads it (flake.nix, flake.versions.nix and
// flake.lock), or a request file read as resolve reads it.
type callerInputs struct {
	req *pb.ResolveInputsRequest
	// placed turns the service's complaint about a field of req, nested
	// under prefix in the call's request, into one about the file it
	// came from.
	placed func(err error, prefix string) error
	// warnings are the flake directory's (unknown attributes Nix ignores).
	warnings []string
}

func readCallerInputs(arg string, stdin io.Reader) (*callerInputs, error) {
	if arg != "-" {
		if st, err := os.Stat(arg); err == nil && st.IsDir() {
			l := &locker{dir: arg}
			if err := l.read(); err != nil {
				return nil, err
			}
			if len(l.flake.Inputs) == 0 {
				return nil, &exitErr{exitError, fmt.Errorf("%s/flake.nix declares no inputs", strings.TrimSuffix(arg, "/"))}
			}
			req := &pb.ResolveInputsRequest{Inputs: flakenix.ToProto(l.flake.Inputs), LockFile: l.oldProto()}
			placed := func(err error, prefix string) error {
				if fe := unnested(err, prefix); fe != nil {
					return l.placed(fe)
				}
				return err
			}
			return &callerInputs{req: req, placed: placed, warnings: l.flake.Warnings}, nil
		}
	}
	req, err := readResolveRequest(arg, stdin)
	if err != nil {
		return nil, err
	}
	placed := func(err error, prefix string) error {
		if fe := unnested(err, prefix); fe != nil {
			return fe
		}
		return err
	}
	return &callerInputs{req: req, placed: placed}, nil
}

// unnested is a complaint about a field of the request nested under prefix,
// as one about the request alone; nil for any other error.
func unnested(err error, prefix string) *service.FieldError {
	var fe *service.FieldError
	if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, prefix) {
		return nil
	}
	return &service.FieldError{Field: strings.TrimPrefix(fe.Field, prefix), Msg: fe.Msg, Requirement: fe.Requirement}
}
