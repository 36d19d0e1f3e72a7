// Package adaptertest is the test harness every channel adapter shares:
// golden files for inbound webhooks and outbound renders, the invariants
// every parsed event holds, the checks of parse and render fuzz targets,
// the type-confusion test, and benchmark and allocation helpers. Only
// _test.go files (and harnesses built on this one, such as
// adapters/meta/metatest) import it.
//
// Golden layout (STYLE.md): testdata/inbound/<case>.json with
// <case>.golden.json (the canonical events, indented), and
// testdata/outbound/<case>.json (whom to send what) with
// <case>.golden.json (what the channel renders: its shape is the
// adapter's). The -update flag, declared here once (Update), rewrites the
// goldens instead of comparing them; packages using this harness must
// not declare it again.
//
// Checks that depend on the channel (an id scheme, a signature, limits)
// come in as a Check, run on every event list the harness parses.
package adaptertest
