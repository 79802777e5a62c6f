package file

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// recordExt is the file name extension of record files.
const recordExt = ".json"

// maxEncoded is the longest encoded key used verbatim as a file name; longer
// ones are shortened with a hash (see fileName). File systems limit a name
// to 255 bytes.
const maxEncoded = 200

// encodeKey maps a record key to a file name stem, reversibly and safely on
// every common file system, case-insensitive ones included: lower-case
// letters, digits, '-' and '_' stand for themselves, an upper-case letter is
// '^' and the letter in lower case, '/' (the scope separator) is '+', and
// every other byte is '%' and two upper-case hex digits. The result never
// starts with '.', so it cannot be "." or ".." or a temporary file.
func encodeKey(key string) string {
	var b strings.Builder
	b.Grow(len(key) + 8)
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			b.WriteByte('^')
			b.WriteByte(c + 'a' - 'A')
		case c == '/':
			b.WriteByte('+')
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// decodeKey is the inverse of encodeKey.
func decodeKey(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		case c == '^':
			if i+1 >= len(s) || s[i+1] < 'a' || s[i+1] > 'z' {
				return "", fmt.Errorf("file name %q: '^' at %d not followed by a lower-case letter", s, i)
			}
			i++
			b.WriteByte(s[i] - ('a' - 'A'))
		case c == '+':
			b.WriteByte('/')
		case c == '%':
			if i+2 >= len(s) {
				return "", fmt.Errorf("file name %q: truncated escape at %d", s, i)
			}
			h := s[i+1 : i+3]
			if strings.ToUpper(h) != h {
				return "", fmt.Errorf("file name %q: escape %%%s must be upper case", s, h)
			}
			v, err := hex.DecodeString(h)
			if err != nil {
				return "", fmt.Errorf("file name %q: bad escape %%%s", s, h)
			}
			if enc := encodeKey(string(v)); enc != "%"+h {
				return "", fmt.Errorf("file name %q: %%%s is written %s", s, h, enc)
			}
			b.WriteByte(v[0])
			i += 2
		default:
			return "", fmt.Errorf("file name %q: unexpected %q at %d", s, c, i)
		}
	}
	return b.String(), nil
}

// errHashedName reports a file name that holds a shortened key.
var errHashedName = errors.New("file name holds a hashed key")

// fileName returns the file name of the record with key. An encoding longer
// than maxEncoded is cut and completed with '~' and a SHA-256 of the key, so
// names stay unique and within file system limits; such a name is not
// decodable, but every record file holds its key.
func fileName(key string) string {
	enc := encodeKey(key)
	if len(enc) > maxEncoded {
		sum := sha256.Sum256([]byte(key))
		cut := 160
		for cut > 0 && (enc[cut-1] == '^' || enc[cut-1] == '%' || (cut > 1 && enc[cut-2] == '%')) {
			cut-- // do not split an escape
		}
		enc = enc[:cut] + "~" + hex.EncodeToString(sum[:16])
	}
	return enc + recordExt
}

// keyOfFileName returns the key a record file name stands for.
func keyOfFileName(name string) (string, error) {
	stem, ok := strings.CutSuffix(name, recordExt)
	if !ok {
		return "", fmt.Errorf("file name %q does not end in %s", name, recordExt)
	}
	if strings.Contains(stem, "~") {
		return "", errHashedName
	}
	return decodeKey(stem)
}
