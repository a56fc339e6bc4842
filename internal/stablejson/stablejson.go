// Package stablejson renders protobuf messages as JSON whose bytes depend
// only on the message.
//
// protojson is the one JSON form of the project's messages (indexes, and
// the --json output of the command line, which is exactly the service's
// answer). It varies its whitespace from run to run on purpose, so that
// nobody depends on its bytes; files the project writes and tests compare
// must not vary, so this package re-indents its output.
package stablejson

import (
	"bytes"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Marshal renders m as protojson, indented by two spaces, with a final
// newline.
func Marshal(m proto.Message) ([]byte, error) {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
