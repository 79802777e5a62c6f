package cloudcontrol

import (
	"crypto/rand"
	"encoding/hex"
)

// NewClientToken returns a fresh random ClientToken: a version 4 UUID drawn
// from crypto/rand, 36 characters of [0-9a-f-], which satisfies the API
// model's ClientToken constraints (pattern [-A-Za-z0-9+/=]+, length 1..128)
// and is what the AWS SDKs generate for idempotency tokens.
func NewClientToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
