package main

import "testing"

func TestEnvironLookup(t *testing.T) {
	t.Parallel()
	env := environ{"A=1", "AB=2", "A=3", "B", "C=", "D=x=y"}
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"A", "3", true}, // the later entry wins, as execve(2) leaves it to the program
		{"AB", "2", true},
		{"B", "", false}, // an entry without "=" sets nothing
		{"C", "", true},
		{"D", "x=y", true},
		{"X", "", false},
	} {
		if v, ok := env.lookup(tc.name); v != tc.value || ok != tc.ok {
			t.Errorf("lookup(%q) = %q, %v; want %q, %v", tc.name, v, ok, tc.value, tc.ok)
		}
	}
}
