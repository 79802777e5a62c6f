package engine

import (
	"slices"
	"testing"
)

// TestValueIndexFindsValuesInsideStrings: a value is found whole, or inside
// a longer string between word boundaries (a JSON document, a suffix, a
// sentence), never as part of a longer name, and one shorter than
// minIndexed only whole.
func TestValueIndexFindsValuesInsideStrings(t *testing.T) {
	var x valueIndex
	x.add("topic", "arn:aws:sns:us-east-1:123456789012:alerts")
	x.add("tpl", "tpl-alpha")
	x.add("short", "dev")
	x.add("unknown", UnknownPrefix+": a.Arn)")
	for _, tt := range []struct {
		s    string
		want []string
	}{
		{"arn:aws:sns:us-east-1:123456789012:alerts", []string{"topic"}},
		{`{"Resource":"arn:aws:sns:us-east-1:123456789012:alerts"}`, []string{"topic"}},
		{"arn:aws:sns:us-east-1:123456789012:alerts/*", []string{"topic"}},
		{"notify arn:aws:sns:us-east-1:123456789012:alerts now", []string{"topic"}},
		{"arn:aws:sns:us-east-1:123456789012:alerts-2", nil},
		{"xarn:aws:sns:us-east-1:123456789012:alerts", nil},
		{"tpl-alpha", []string{"tpl"}},
		{"tpl-alphabet", nil},
		{"use tpl-alpha and arn:aws:sns:us-east-1:123456789012:alerts", []string{"topic", "tpl"}},
		{"dev", []string{"short"}},
		{"stage dev only", nil},
		{UnknownPrefix + ": a.Arn)", nil},
	} {
		var got []string
		x.find(tt.s, func(k string) { got = append(got, k) })
		slices.Sort(got)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("find(%q) = %v, want %v", tt.s, got, want)
		}
	}
}
