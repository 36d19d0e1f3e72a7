//go:build !race

package normalize

import "testing"

// The race detector allocates on its own, so these pins run without it.

func TestAppendJSONAllocs(t *testing.T) {
	for name, e := range map[string]Event{"typical": typicalEvent(), "full": fullEvent()} {
		buf := make([]byte, 0, 4096)
		if n := testing.AllocsPerRun(100, func() { buf = e.AppendJSON(buf[:0]) }); n != 0 {
			t.Errorf("%s: AppendJSON into a large enough buffer: %v allocs, want 0", name, n)
		}
	}
}

func TestAppendStringAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	s := "tricky <&> \"\\\x00\u2028 \xff ünïcode"
	if n := testing.AllocsPerRun(100, func() { buf = AppendString(buf[:0], s) }); n != 0 {
		t.Errorf("AppendString: %v allocs, want 0", n)
	}
}

func TestAppendResponsePathAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = AppendResponsePath(buf[:0], "1061234567", "2345678901234567") }); n != 0 {
		t.Errorf("AppendResponsePath: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _, _ = ParseResponsePath("1061234567/c/2345678901234567") }); n != 0 {
		t.Errorf("ParseResponsePath: %v allocs, want 0", n)
	}
}
