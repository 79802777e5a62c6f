package file

// Exported for the tests of package file_test.
var FileName = fileName

// PutFrame returns a log frame putting data under key.
func PutFrame(key string, data []byte) []byte {
	return appendFrame(nil, kindPut, putPayload(key), data)
}
