package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/flakeresolve/flakeresolve/index"
)

// Layer is the bytes of one index file, as read from its origin (a path
// or a URL), before they are parsed.
type Layer struct {
	Origin string
	Data   []byte
}

// Snapshot is a set of index layers parsed from their bytes, with the
// digests that name those bytes.
type Snapshot struct {
	Layers *index.Layers
	// Digest is IndexDigest of the layers' bytes.
	Digest string
	// Files is each layer's own SHA-256 (hex) by origin, for operators
	// matching a file to what is served.
	Files map[string]string
}

// IndexDigest is the one name of the indexes a server serves: the SHA-256
// (hex) of the bytes of its index files, in layer order. Every response
// of a server carries it, and a client pins a session to it; for a single
// index file it is that file's sha256sum. Layer boundaries are not hashed:
// the layers are the server's configuration, the same on every replica
// that serves one snapshot.
func IndexDigest(layers []Layer) string {
	h := sha256.New()
	for _, l := range layers {
		h.Write(l.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ParseLayers parses and validates every layer before any is used, so
// the result is all or nothing, with every layer's problems listed.
func ParseLayers(layers []Layer) (*Snapshot, error) {
	snap := &Snapshot{Digest: IndexDigest(layers), Files: map[string]string{}}
	var ixs []*index.Index
	var errs []error
	for _, l := range layers {
		ix, err := index.Parse(l.Origin, l.Data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ixs = append(ixs, ix)
		sum := sha256.Sum256(l.Data)
		snap.Files[l.Origin] = hex.EncodeToString(sum[:])
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	snap.Layers = index.NewLayers(ixs...)
	return snap, nil
}

// IndexChangedError refuses a call that asked for an index snapshot
// (by its digest) other than the one served.
type IndexChangedError struct {
	Wanted, Served string
}

func (e *IndexChangedError) Error() string {
	return fmt.Sprintf("index digest %s was asked for, but this server serves %s", e.Wanted, e.Served)
}

type boundKey struct{}

// Bind ties a call to the indexes served now, so that everything it reads
// and the digest it reports come from one snapshot even if Swap runs
// meanwhile. With wanted set (a digest the caller pinned its session to)
// it refuses the call with *IndexChangedError unless that is the digest
// served. It returns the digest served either way.
func (s *Service) Bind(ctx context.Context, wanted string) (context.Context, string, error) {
	cur := s.served.Load()
	if wanted != "" && wanted != cur.digest {
		return ctx, cur.digest, &IndexChangedError{Wanted: wanted, Served: cur.digest}
	}
	return context.WithValue(ctx, boundKey{}, cur), cur.digest, nil
}

// Digest is the digest of the indexes served now (see IndexDigest).
func (s *Service) Digest() string { return s.served.Load().digest }

// hold binds ctx to the indexes served now unless it is bound already,
// for a call that reads them more than once.
func (s *Service) hold(ctx context.Context) context.Context {
	if _, ok := ctx.Value(boundKey{}).(*served); ok {
		return ctx
	}
	return context.WithValue(ctx, boundKey{}, s.served.Load())
}

// bound is what the call of ctx was bound to, or else what is served now.
func (s *Service) bound(ctx context.Context) *served {
	if b, ok := ctx.Value(boundKey{}).(*served); ok {
		return b
	}
	return s.served.Load()
}
