// Package state records what Athanor did: one durable record per resource,
// stage metadata (exports, the target the stage is bound to) and a lock per
// app and stage.
//
// Backends implement Backend and Register a URL scheme, which Open
// dispatches on: the file backend (state/file, a directory, the default),
// PostgreSQL (state/postgres, postgres:// URLs, for teams) and S3
// (state/s3, s3://bucket/prefix URLs, for teams on AWS). A program links
// the backends it imports, as with database/sql drivers; state/statetest
// is the conformance suite every backend passes.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// FormatVersion is the newest record format this code reads and writes.
// Version 2 added Placement; a record without one is still written as
// version 1, so that older releases keep reading stages that place nothing
// elsewhere, and refuse (as written by a newer Athanor) those that do
// rather than send their operations to the wrong region or account.
const FormatVersion = 2

// formatVersionUnplaced is the version a record without a placement is
// written in.
const formatVersionUnplaced = 1

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("state: record not found")

// ErrLocked is wrapped by *LockedError when another run holds the stage lock.
var ErrLocked = errors.New("state: stage is locked")

// ErrLockLost is wrapped by Lock.Err once a held lock is lost (its lease
// ran out unrenewed, another run took it, or it was forcibly unlocked), and
// by every write the backend then refuses: a backend whose lock is held
// fences its writes with it, so a holder that lost its lock cannot change
// the stage another run may now hold.
var ErrLockLost = errors.New("state: stage lock lost")

// Status is where a resource is in its lifecycle.
type Status string

// Statuses.
const (
	StatusCreating  Status = "creating"  // intent recorded, create in flight
	StatusCreated   Status = "created"   // exists, matches Desired
	StatusUpdating  Status = "updating"  // update in flight
	StatusReplacing Status = "replacing" // replacement in flight (see Pending)
	StatusDeleting  Status = "deleting"  // delete in flight
)

// Pending is an operation that was started and may not have finished: what a
// resumed run needs to poll it or repeat it with the same ClientToken.
type Pending struct {
	Operation    string          `json:"operation"` // CREATE, UPDATE or DELETE
	ClientToken  string          `json:"clientToken"`
	RequestToken string          `json:"requestToken,omitempty"`
	Identifier   string          `json:"identifier,omitempty"`
	Desired      json.RawMessage `json:"desired,omitempty"` // the state being created/updated to
	Patch        json.RawMessage `json:"patch,omitempty"`   // for UPDATE
	StartedAt    time.Time       `json:"startedAt"`
	// Placement is where the operation was sent (nil: the run's region and
	// account); a create's may differ from the record's while a resource
	// moves.
	Placement *Placement `json:"placement,omitempty"`
}

// Record is everything known about one resource of a stage.
type Record struct {
	FormatVersion int    `json:"formatVersion"`
	Key           string `json:"key"`   // scope path and logical id, e.g. "fleet/basicJobTemplate"; unique in the stage
	Scope         string `json:"scope"` // scope path, "" at the root
	LogicalID     string `json:"logicalId"`
	Type          string `json:"type"` // e.g. AWS::IoT::JobTemplate
	Seq           int64  `json:"seq"`  // creation sequence within the stage
	Status        Status `json:"status"`
	Identifier    string `json:"identifier,omitempty"`
	// Desired is the last desired state applied (write-only values included,
	// since the cloud never returns them).
	Desired json.RawMessage `json:"desired,omitempty"`
	// Outputs are the read-only values the cloud returned (e.g. Arn).
	Outputs json.RawMessage `json:"outputs,omitempty"`
	// Pending is the in-flight operation, if any.
	Pending *Pending `json:"pending,omitempty"`
	// DependsOn lists the keys of resources whose outputs this resource's
	// desired state uses; deletion runs dependents first.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Retired lists older physical resources replaced by this one that still
	// await deletion (create-first replacement), oldest first.
	Retired []Retired `json:"retired,omitempty"`
	// Placement is where the resource lives when a provider of the program
	// put it in another region or account than the run's own (nil: the
	// run's). Every operation on it goes there, also once the program no
	// longer declares the provider.
	Placement *Placement `json:"placement,omitempty"`
	// Retain is set when the declaration asked for the resource to be kept
	// in the cloud (athanor.Retain): once no longer declared, or on a
	// destroy, its record is removed without deleting it. Absent reads as
	// false.
	Retain    bool      `json:"retain,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Retired is a replaced physical resource whose deletion is still owed.
type Retired struct {
	Identifier string   `json:"identifier"`
	Pending    *Pending `json:"pending,omitempty"`
	// Placement is where the replaced resource lives (nil: the run's).
	Placement *Placement `json:"placement,omitempty"`
}

// Placement is where a resource lives and how a run reaches it: a region,
// and credentials from a shared-config profile and/or an assumed role. It
// holds no secret.
type Placement struct {
	// Region is the resource's region ("" the run's).
	Region string `json:"region,omitempty"`
	// Account is the account the placement's credentials resolved to when
	// the resource was created; a later run whose credentials resolve to
	// another account for it is refused.
	Account string `json:"account,omitempty"`
	// Profile is the shared-config profile whose credentials are used
	// ("" the run's).
	Profile string `json:"profile,omitempty"`
	// RoleARN is the IAM role assumed (with ExternalID and SessionName).
	RoleARN     string `json:"roleArn,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
	SessionName string `json:"sessionName,omitempty"`
}

// Same reports whether p and o place resources alike: the same region,
// profile and role (the account is what they resolve to).
func (p *Placement) Same(o *Placement) bool {
	if p == nil || o == nil {
		return p.IsZero() && o.IsZero()
	}
	return p.Region == o.Region && p.Profile == o.Profile && p.RoleARN == o.RoleARN && p.ExternalID == o.ExternalID
}

// IsZero reports whether p places nothing elsewhere.
func (p *Placement) IsZero() bool {
	return p == nil || p.Region == "" && p.Profile == "" && p.RoleARN == ""
}

// String describes p for a message.
func (p *Placement) String() string {
	if p.IsZero() {
		return "the run's region and account"
	}
	var parts []string
	if p.Region != "" {
		parts = append(parts, "region "+p.Region)
	}
	if p.Account != "" {
		parts = append(parts, "account "+p.Account)
	}
	if p.Profile != "" {
		parts = append(parts, "profile "+p.Profile)
	}
	if p.RoleARN != "" {
		parts = append(parts, "role "+p.RoleARN)
	}
	return strings.Join(parts, ", ")
}

// Meta is stage-wide data: exports of the last successful run and counters.
type Meta struct {
	FormatVersion int                        `json:"formatVersion"`
	NextSeq       int64                      `json:"nextSeq"`
	Exports       map[string]json.RawMessage `json:"exports,omitempty"`
	Target        *Target                    `json:"target,omitempty"` // where the stage lives (target.go); nil until bound
	// Reads lists the resources the last successful run looked up (read
	// without managing them), by key: they are never changed or deleted,
	// and leave this list when the program no longer looks them up.
	Reads     map[string]Read `json:"reads,omitempty"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// Read is a resource a run looked up: read, not managed.
type Read struct {
	Type       string    `json:"type"`
	Identifier string    `json:"identifier"`
	ReadAt     time.Time `json:"readAt"`
}

// LockInfo names a lock holder.
type LockInfo struct {
	ID        string    `json:"id"` // random per run
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Operation string    `json:"operation"` // deploy, destroy, plan...
	Since     time.Time `json:"since"`
	// Expires is when the holder's lease ends unless renewed, for backends
	// whose locks are leases (PostgreSQL); zero for locks that last as long
	// as their holder's process (the file backend). Backends fill it in
	// when they report a holder; Lock ignores it.
	Expires time.Time `json:"expires,omitzero"`
}

// LockedError is returned when another run holds the lock.
type LockedError struct {
	App, Stage string
	Holder     LockInfo
	// Now is the backend's clock when Holder was read, so that the message
	// can say whether Holder.Expires is past; zero when Holder.Expires is.
	Now time.Time
}

// Lock is a held stage lock.
//
// While it is held, the backend that took it fences every write (Put,
// Delete, PutMeta) with it: a write is applied only if the lock is still
// this holder's at the moment it is applied (for PostgreSQL, checked in the
// write's own statement against the lock row and the database's clock), and
// fails with an error wrapping ErrLockLost otherwise, never applied
// silently. Writes through a backend holding no lock are not fenced: the
// caller answers for them (the athanor state commands write under the lock).
type Lock interface {
	// Unlock releases the lock. Calling it again does nothing. It is safe
	// after the lock was lost, and then never releases another holder's
	// lock. Once Unlock returns, the backend's writes are no longer fenced.
	Unlock(ctx context.Context) error
	// Lost returns a channel closed when the lock is lost while held: its
	// lease ran out without renewal by the holder's own clock (so it closes
	// before another run can take the lock, even while the store is
	// unreachable), another run took it, or it was forcibly unlocked. It is
	// never closed by Unlock. Backends whose locks cannot expire close it
	// only when they detect the lock was broken.
	Lost() <-chan struct{}
	// Err is nil while the lock is held; once Lost is closed, an error
	// wrapping ErrLockLost that says why.
	Err() error
}

// Backend stores the records of one app and stage. Implementations must be
// safe for concurrent use; every write is atomic and durable when it returns.
type Backend interface {
	Get(ctx context.Context, key string) (*Record, error) // ErrNotFound
	Put(ctx context.Context, r *Record) error
	Delete(ctx context.Context, key string) error // missing is not an error
	List(ctx context.Context) ([]*Record, error)  // sorted by Seq
	GetMeta(ctx context.Context) (*Meta, error)   // zero Meta when none
	PutMeta(ctx context.Context, m *Meta) error
	// Lock takes the stage lock or fails with *LockedError (errors.Is ErrLocked).
	Lock(ctx context.Context, info LockInfo) (Lock, error)
	Close() error
}
