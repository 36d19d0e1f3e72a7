// Package metatest is the test harness the Meta channel adapters share
// (Messenger, Instagram): golden files for inbound webhooks and outbound
// renders, the invariants every parsed event holds, and the checks their
// fuzz targets and type-confusion tests run. Only _test.go files import
// it.
//
// Golden layout (STYLE.md): testdata/inbound/<case>.json with
// <case>.golden.json (the canonical events, indented), and
// testdata/outbound/<case>.json ({recipient, reply}) with
// <case>.golden.json ({path, body, degraded} or {error, degraded}); the
// -update flag, which this package declares (Update), rewrites the
// goldens. Webhooks are signed at test time with a fake secret.
package metatest
