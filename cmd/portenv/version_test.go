package main

import (
	"runtime/debug"
	"testing"
)

func TestDescribeVersion(t *testing.T) {
	const rev = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-11-20T08:00:00Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	tests := []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  string
	}{
		{
			name:    "release stamp wins over build information",
			version: "1.2.3", commit: "fedcba9876543210fedcba9876543210fedcba98", date: "2026-11-27T10:00:00Z",
			bi:   &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261120080000-0a1b2c3d4e5f"}, Settings: vcs("false")},
			want: "1.2.3 (commit fedcba9876543210fedcba9876543210fedcba98, built 2026-11-27T10:00:00Z)",
		},
		{
			name:    "version stamped alone",
			version: "1.2.3",
			want:    "1.2.3 (commit unknown, built unknown)",
		},
		{
			name:    "no build information",
			version: "dev",
			want:    "dev (commit unknown, built unknown)",
		},
		{
			name:    "build from a clean checkout",
			version: "dev",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261120080000-0a1b2c3d4e5f"}, Settings: vcs("false")},
			want:    "dev (commit " + rev + ", built unknown)",
		},
		{
			name:    "build from a modified checkout",
			version: "dev",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "v1.2.4-0.20261120080000-0a1b2c3d4e5f+dirty"}, Settings: vcs("true")},
			want:    "dev (commit " + rev + "-dirty, built unknown)",
		},
		{
			name:    "build after a tag, pseudo-version",
			version: "dev",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "v1.2.4-0.20261120080000-0a1b2c3d4e5f"}},
			want:    "dev (commit unknown, built unknown)",
		},
		{
			name:    "pre-release pseudo-version",
			version: "dev",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0-rc.1.0.20261120080000-0a1b2c3d4e5f"}},
			want:    "dev (commit unknown, built unknown)",
		},
		{
			name:    "go install at a tag",
			version: "dev",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			want:    "1.2.3 (commit unknown, built unknown)",
		},
		{
			name:    "go install at a pre-release tag",
			version: "dev",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0-rc.1"}},
			want:    "1.3.0-rc.1 (commit unknown, built unknown)",
		},
		{
			name:    "tagged checkout with changes",
			version: "dev",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3+dirty"}, Settings: vcs("true")},
			want:    "dev (commit " + rev + "-dirty, built unknown)",
		},
		{
			name:    "go run or go test",
			version: "dev",
			bi:      &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want:    "dev (commit unknown, built unknown)",
		},
		{
			name:    "empty stamp counts as none",
			version: "",
			want:    "dev (commit unknown, built unknown)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeVersion(tt.version, tt.commit, tt.date, tt.bi); got != tt.want {
				t.Errorf("describeVersion(%q, %q, %q) = %q, want %q", tt.version, tt.commit, tt.date, got, tt.want)
			}
		})
	}
}
