package app

import (
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"

	"github.com/switchboard-gw/switchboard/config"
)

// demoGraphPath is where the demo Graph stand-in lives.
const demoGraphPath = "/_demo/graph"

// demoGraphLogFirst replies are all logged before sampling starts.
const demoGraphLogFirst = 20

// usesDemoGraph reports whether a Messenger connection sends to the demo
// stand-in; only then is it mounted.
func usesDemoGraph(cfg *config.Config) bool {
	for _, c := range cfg.Connections {
		if c.Messenger != nil && strings.Contains(c.Messenger.APIBase, demoGraphPath) {
			return true
		}
	}
	return false
}

// demoGraph mounts a stand-in for the Graph Send API at /_demo/graph, which
// the embedded default's demo connection sends to: with no Meta reachable,
// `go run ./gateway` still shows the whole round trip, the rendered reply
// logged here. It answers like the Send API's success. The first replies
// are all logged, then one a second (with the count so far): a load test
// against the demo (`go run ./bench -target`) sends thousands a second,
// and a line for each would bury the log and cost the run's CPU.
func demoGraph(log *slog.Logger) func(r *router.Router) {
	var n atomic.Uint64
	sample := &rate.Sometimes{First: demoGraphLogFirst, Interval: time.Second}
	return func(r *router.Router) {
		r.POST(demoGraphPath+"/{path:*}", func(ctx *fasthttp.RequestCtx) {
			id := n.Add(1)
			sample.Do(func() {
				log.Info("demo graph: reply rendered for Messenger", "path", "/"+string(ctx.UserValue("path").(string)),
					"body", string(ctx.PostBody()), "replies", id)
			})
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"recipient_id":"demo","message_id":"m_demo_` + strconv.FormatUint(id, 10) + `"}`)
		})
	}
}
