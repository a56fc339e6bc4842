package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
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

// callerOf names who makes a call: the owner of its bearer token, else the
// subject of its verified client certificate (the common name, or the
// whole subject when it has none), else "" (anonymous). A token that is
// presented must be known: a typo must not silently make a caller
// anonymous.
func callerOf(ctx context.Context, tokens Tokens) (string, error) {
	if vals := metadata.ValueFromIncomingContext(ctx, "authorization"); len(vals) > 0 {
		tok, ok := strings.CutPrefix(vals[0], "Bearer ")
		if !ok {
			return "", status.Error(codes.Unauthenticated, "authorization metadata is not \"Bearer TOKEN\"")
		}
		caller, ok := tokens[sha256.Sum256([]byte(tok))]
		if !ok {
			return "", status.Error(codes.Unauthenticated, "unknown bearer token")
		}
		return caller, nil
	}
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 {
			cert := ti.State.VerifiedChains[0][0]
			if cert.Subject.CommonName != "" {
				return cert.Subject.CommonName, nil
			}
			return cert.Subject.String(), nil
		}
	}
	return "", nil
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
		if err != nil {
			return nil, err
		}
		if caller == "" && required {
			return nil, status.Error(codes.Unauthenticated, "this server answers only callers with a bearer token or a client certificate")
		}
		if slot, ok := ctx.Value(callerSlotKey{}).(*string); ok {
			*slot = caller
		}
		return handler(service.WithCaller(ctx, caller), req)
	}
}

// callerSlotKey marks where authenticate tells the access log, which runs
// around it, who the caller was.
type callerSlotKey struct{}
