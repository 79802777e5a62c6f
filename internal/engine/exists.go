package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/athanor-dev/athanor/cloudcontrol"
	"github.com/athanor-dev/athanor/schema"
)

// alreadyExists explains a create that failed with AlreadyExists: which
// identifier exists, and the two ways on (adopt it, or name it per stage).
// Other errors are returned as they are.
func alreadyExists(s *schema.Schema, model map[string]any, err error) error {
	if !errors.Is(err, cloudcontrol.ErrAlreadyExists) {
		return err
	}
	props := make([]string, len(s.PrimaryIdentifier))
	for i, p := range s.PrimaryIdentifier {
		props[i] = strings.TrimPrefix(trimProperties(p), "/")
	}
	what := "the resource"
	if id, ierr := s.Identifier(model); ierr == nil && id != "" {
		what = fmt.Sprintf("%s %q", strings.Join(props, ", "), id)
	}
	hint := "athanor.Adopt() takes it over"
	if len(props) == 1 {
		hint += fmt.Sprintf("; a per-stage name avoids the collision: %s: app.PhysicalName(\"...\", athanor.NameFor(%q, %q))", props[0], s.TypeName, props[0])
	}
	return &existsError{msg: fmt.Sprintf("%s already exists but is not in this stage's state (another stage, program or person made it); %s", what, hint), err: err}
}

type existsError struct {
	msg string
	err error
}

func (e *existsError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *existsError) Unwrap() error { return e.err }
