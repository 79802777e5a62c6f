package file

import "encoding/binary"

// Exported for the tests of package file_test.
var FileName = fileName

// PutFrame returns a log frame putting data under key.
func PutFrame(key string, data []byte) []byte {
	return appendFrame(nil, kindPut, putPayload(key), data)
}

// putPayload is the payload of a put frame built the long way, as the
// tests' reference for appendPut: the key's length, the key (and then the
// record's JSON).
func putPayload(key string) []byte {
	p := make([]byte, 2, 2+len(key))
	binary.LittleEndian.PutUint16(p, uint16(len(key)))
	return append(p, key...)
}
