package streams

import (
	"testing"
	"time"
)

// TestISODurationMatchesJavaDurationParse: by_duration takes what Java's
// Duration.parse takes and nothing else; the cases follow the JDK's
// TCKDuration factory_parse / factory_parseFailures data (which Kafka
// Streams' AutoOffsetReset.byDuration relies on through
// StreamsConfig's parsing of "by_duration:<duration>").
func TestISODurationMatchesJavaDurationParse(t *testing.T) {
	ok := map[string]time.Duration{
		"PT0S":           0,
		"P1D":            24 * time.Hour,
		"p1d":            24 * time.Hour,
		"PT1H":           time.Hour,
		"PT1.5S":         1500 * time.Millisecond,
		"PT1,5S":         1500 * time.Millisecond,
		"PT1.S":          time.Second,
		"PT0.123456789S": 123456789,
		"P1DT2H30M1.5S":  26*time.Hour + 30*time.Minute + 1500*time.Millisecond,
		"PT-0.5S":        -500 * time.Millisecond,
		"-PT1H":          -time.Hour,
		"+PT1M":          time.Minute,
		"PT1H-30M":       30 * time.Minute,
	}
	for s, want := range ok {
		if got, err := parseISODuration(s); err != nil || got != want {
			t.Errorf("%q parsed to %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "P", "PT", "P1DT", "p1dt", "PT.5S", "PT1.1234567891S", "P1H", "PT1D", "P1M", "PT1S1M", "PT1H1H", "P1W", "1D", "PT1.5M", "P1D2H"} {
		if d, err := parseISODuration(s); err == nil {
			t.Errorf("%q accepted as %v; Duration.parse rejects it", s, d)
		}
	}
}
