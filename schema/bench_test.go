package schema

import (
	"path/filepath"
	"slices"
	"testing"
)

func BenchmarkValidateAdvancedSeed(b *testing.B) {
	s := lookup(b, jobTemplate)
	model := readModel(b, filepath.Join(seedDir, "advanced.json"))
	if err := s.ValidateDesired(model); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ValidateDesired(model); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateSeedWrongAdvanced(b *testing.B) {
	s := lookup(b, jobTemplate)
	model := readModel(b, filepath.Join(seedWrongDir, "advanced.json"))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ValidateDesired(model); err == nil {
			b.Fatal("the seed's advanced example validated")
		}
	}
}

// BenchmarkLookupCold measures a first lookup: decompressing and parsing
// one type's embedded table.
func BenchmarkLookupCold(b *testing.B) {
	for _, name := range []string{jobTemplate, "AWS::EC2::Instance"} {
		b.Run(name, func(b *testing.B) {
			r := Default()
			i, ok := slices.BinarySearch(r.names, name)
			if !ok {
				b.Fatalf("%s is not embedded", name)
			}
			deflated := tableData[tableIndex[i].off : tableIndex[i].off+tableIndex[i].size]
			b.ReportAllocs()
			for b.Loop() {
				e := entry{deflated: deflated}
				if _, err := e.get(name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDefaultRegistry measures building the embedded registry's index,
// which the first Default call does once.
func BenchmarkDefaultRegistry(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if r := embeddedRegistry(); len(r.names) != len(tableIndex) {
			b.Fatal("incomplete registry")
		}
	}
}

// BenchmarkLookupWarm measures a cached lookup.
func BenchmarkLookupWarm(b *testing.B) {
	if _, err := Lookup(jobTemplate); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Lookup(jobTemplate); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDiffLogGroupTags(b *testing.B) {
	s := lookup(b, "AWS::Logs::LogGroup")
	rec := decode(b, `{"LogGroupName": "app", "RetentionInDays": 7, "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "core"}]}`)
	des := decode(b, `{"LogGroupName": "app", "RetentionInDays": 30, "Tags": [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "dev"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Diff(rec, des); err != nil {
			b.Fatal(err)
		}
	}
}
