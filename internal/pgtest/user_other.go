//go:build !unix

package pgtest

import "os/exec"

// runAs is unused where there is no root.
type runAs struct{}

func serverUser() (*runAs, error)    { return nil, nil }
func (u *runAs) own(string) error    { return nil }
func (u *runAs) apply(cmd *exec.Cmd) {}
