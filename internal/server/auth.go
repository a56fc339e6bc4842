package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/internal/service"
)

// Tokens are the bearer tokens a server accepts, each naming its caller.
// They are held as SHA-256 digests: a lookup's time then says nothing of
// how much of a guessed token was right, and the process keeps no token.
type Tokens map[[sha256.Size]byte]string

// ParseTokens reads a tokens file: one "CALLER TOKEN" a line, blank lines
// and lines starting with # ignored. name is the file, for errors.
func ParseTokens(name string, data []byte) (Tokens, error) {
	t := Tokens{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: %d fields; expected CALLER TOKEN", name, line, len(f))
		}
		if len(f[1]) < 16 {
			return nil, fmt.Errorf("%s:%d: the token of %s has %d characters; expected at least 16 (a random one: openssl rand -hex 32)", name, line, f[0], len(f[1]))
		}
		sum := sha256.Sum256([]byte(f[1]))
		if other, dup := t[sum]; dup {
			return nil, fmt.Errorf("%s:%d: the token of %s is also %s's; a token names one caller", name, line, f[0], other)
		}
		t[sum] = f[0]
	}
	return t, sc.Err()
}

// callerOf names who makes a gRPC call (identify, from its metadata and
// its TLS peer).
func callerOf(ctx context.Context, tokens Tokens) (string, error) {
	var chains [][]*x509.Certificate
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			chains = ti.State.VerifiedChains
		}
	}
	return identify(metadata.ValueFromIncomingContext(ctx, "authorization"), chains, tokens)
}

// identify names a caller from its authorization values and its verified
// certificate chains: the owner of its bearer token, else the subject of
// its client certificate (the common name, or the whole subject when it
// has none), else "" (anonymous). A token that is presented must be
// known: a typo must not silently make a caller anonymous.
func identify(authorization []string, chains [][]*x509.Certificate, tokens Tokens) (string, error) {
	if len(authorization) > 0 {
		tok, ok := strings.CutPrefix(authorization[0], "Bearer ")
		if !ok {
			return "", status.Error(codes.Unauthenticated, "authorization is not \"Bearer TOKEN\"")
		}
		caller, ok := tokens[sha256.Sum256([]byte(tok))]
		if !ok {
			return "", status.Error(codes.Unauthenticated, "unknown bearer token")
		}
		return caller, nil
	}
	if len(chains) > 0 {
		cert := chains[0][0]
		if cert.Subject.CommonName != "" {
			return cert.Subject.CommonName, nil
		}
		return cert.Subject.String(), nil
	}
	return "", nil
}

// admit refuses an anonymous caller when callers are required.
func admit(caller string, required bool) error {
	if caller == "" && required {
		return status.Error(codes.Unauthenticated, "this server answers only callers with a bearer token or a client certificate")
	}
	return nil
}

// authenticate puts the caller into the context for the service, which
// shows it the index layers it may see. Health checks are answered for
// anyone: load balancers probe without credentials.
func authenticate(tokens Tokens, required bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") {
			return handler(ctx, req)
		}
		caller, err := callerOf(ctx, tokens)
		if err == nil {
			err = admit(caller, required)
		}
		if err != nil {
			return nil, err
		}
		return handler(withCaller(ctx, caller), req)
	}
}

// withCaller tells the service, and the access log that runs around the
// interceptors, who the caller is.
func withCaller(ctx context.Context, caller string) context.Context {
	if slot, ok := ctx.Value(callSlotKey{}).(*callSlot); ok {
		slot.caller = caller
	}
	return service.WithCaller(ctx, caller)
}

// callSlot is where the interceptors tell the access log, which runs
// around them, who the caller was, and where a call of the HTTP face came
// from (its gRPC peer is the in-memory connection).
type callSlot struct{ caller, peer string }

type callSlotKey struct{}

// HTTPContext names who makes a request of the HTTP face as a gRPC caller
// is named: by the bearer token of its Authorization header, else by its
// verified client certificate. The context it returns carries the caller
// and the client's address into the calls the face makes (InProcess). It
// refuses the request as a gRPC call would be refused (UNAUTHENTICATED:
// an unknown token, or no caller where one is required).
func (s *Server) HTTPContext(r *http.Request) (context.Context, error) {
	var chains [][]*x509.Certificate
	if r.TLS != nil {
		chains = r.TLS.VerifiedChains
	}
	caller, err := identify(r.Header.Values("Authorization"), chains, s.opts.Tokens)
	if err == nil {
		err = admit(caller, s.opts.RequireCaller)
	}
	if err != nil {
		return nil, err
	}
	return context.WithValue(service.WithCaller(r.Context(), caller), httpPeerKey{}, r.RemoteAddr), nil
}
