package emulator

import (
	"regexp"
	"strings"
)

// scope is where a request is served: an account and a region. Every scope
// has a store of its own, so resources and requests of different accounts
// and regions never meet.
type scope struct {
	Account, Region string
}

func (sc scope) String() string { return "account " + sc.Account + " in " + sc.Region }

// journalKey is the key under which the journal keeps a record of the scope
// that its store knows by key: "<account>\x00<region>\x00<key>".
func (sc scope) journalKey(key string) string {
	return sc.Account + "\x00" + sc.Region + "\x00" + key
}

// splitJournalKey is the inverse of journalKey.
func splitJournalKey(k string) (scope, string, bool) {
	acct, rest, ok1 := strings.Cut(k, "\x00")
	region, key, ok2 := strings.Cut(rest, "\x00")
	if !ok1 || !ok2 || len(acct) != 12 || !isDigits(acct) || region == "" {
		return scope{}, "", false
	}
	return scope{acct, region}, key, true
}

// regionName is the shape of an AWS region name: us-east-1, us-gov-west-1,
// cn-north-1, eu-isoe-west-1.
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// validRegion reports whether the emulator serves region: the region of
// Options.Region, and any name of the shape of an AWS region.
func (s *Server) validRegion(region string) bool {
	return region == s.opts.Region || regionName.MatchString(region)
}

// home is the scope of a request that says nothing of where it goes: no
// signature, or one the emulator does not check and cannot read.
func (s *Server) home() scope { return scope{s.opts.Account, s.opts.Region} }

// store returns the store of sc, creating it when sc has none yet.
func (s *Server) store(sc scope) *store {
	s.storesMu.Lock()
	defer s.storesMu.Unlock()
	st := s.stores[sc]
	if st == nil {
		st = newStore(s.j, s.opts.RequestRetention, sc)
		s.stores[sc] = st
	}
	return st
}

// call is one request being served: the server, the caller, and the scope
// it is served in with that scope's store. The doors' handlers are its
// methods.
type call struct {
	*Server
	caller caller
	sc     scope
	st     *store
}

func (s *Server) newCall(c caller) *call {
	return &call{Server: s, caller: c, sc: c.scope, st: s.store(c.scope)}
}
