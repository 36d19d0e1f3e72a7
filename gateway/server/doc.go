// Package server is Switchboard's HTTP face (DESIGN §9): provider webhooks,
// the backend-facing /v1 API, and the operations routes. Handlers only
// translate between HTTP and the pipeline and dispatch packages; every
// error leaves as JSON {"error":{"code","message"}} with a fitting status,
// and its reason goes to the log at warn level, sampled per connection so
// a flood of refusals cannot flood the log (logSampler).
//
// fasthttp reuses request memory after a handler returns: nothing a
// handler reads from ctx may be kept unless copied. Adapters copy what
// they parse; handlers copy path parameters before sharing them.
package server
