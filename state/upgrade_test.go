package state

import "testing"

// TestDecodesAsIsFollowsTheUpgrades: the one-pass decode applies exactly to
// the versions whose upgrades to the current one leave the JSON as it is,
// so a later version with a real upgrade step cannot be skipped by it.
func TestDecodesAsIsFollowsTheUpgrades(t *testing.T) {
	for _, v := range []int{-1, FormatVersion + 1} {
		if decodesAsIs(v) {
			t.Errorf("version %d decodes as it is; it is not one this code reads", v)
		}
	}
	if decodesAsIs(0) {
		t.Error("version 0 decodes as it is; its layout differs")
	}
	if !decodesAsIs(formatVersionUnplaced) || !decodesAsIs(FormatVersion) {
		t.Error("versions 1 and 2 must decode in one pass")
	}
	// A step added from the current version's predecessor ends the one
	// pass for every version before it.
	saved := recordUpgrades[FormatVersion-1]
	t.Cleanup(func() { recordUpgrades[FormatVersion-1] = saved })
	recordUpgrades[FormatVersion-1] = recordUpgrade{step: func(b []byte) ([]byte, error) { return b, nil }}
	if decodesAsIs(FormatVersion - 1) {
		t.Error("a version with an upgrade step still decodes as it is")
	}
}
