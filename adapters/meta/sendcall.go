package meta

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Doer is adapters.Doer, which Endpoint.Client takes.
type Doer = adapters.Doer

// defaultClient serves endpoints whose Client is nil. Its read timeout
// covers the 75 s Meta may spend fetching a video attachment by URL.
var defaultClient = adapters.NewClient(90 * time.Second)

// Endpoint is where one connection's Send API calls go. Adapters build it
// per call from their own fields, so it costs nothing to keep them
// mutable until serving starts.
type Endpoint struct {
	// APIBase is the Graph API root, version included
	// (https://graph.facebook.com/v25.0).
	APIBase string
	// Tokens maps a bot id (Page, IG account) to the token that sends as
	// it; Instagram uses the linked Page's token.
	Tokens map[string]string
	// Client sends the calls; nil means a shared fasthttp.Client. An
	// adapters.DeadlineDoer (as *fasthttp.Client is) gets the context's
	// deadline.
	Client Doer
	// Batch, when on (Max of 2 or more), gathers Send API calls into
	// Graph batch requests; nil sends each on its own.
	Batch *Batcher
}

// Send renders r for to and calls the Send API once. Errors are
// *adapters.RenderError (nothing was called) or *adapters.APIError
// classified by Classify. Sent.Degraded is set on errors too.
func (api *SendAPI) Send(ctx context.Context, e Endpoint, to adapters.Recipient, r *normalize.Reply) (adapters.Sent, error) {
	b := acquireBuf()
	defer releaseBuf(b)
	body, path, degraded, err := api.Render(b.body[:0], e.Tokens, to, r)
	b.body = body
	sent := adapters.Sent{Degraded: degraded}
	if err != nil {
		return sent, err
	}
	err = e.call(ctx, b, fasthttp.MethodPost, path, e.Tokens[to.BotID], "send", func(v *fastjson.Value, _ int) error {
		sent.MessageID = string(v.GetStringBytes("message_id"))
		sent.AttachmentID = string(v.GetStringBytes("attachment_id"))
		return nil
	})
	return sent, err
}

// Handover runs one handover-protocol action (DESIGN §5) for the thread of
// to: inbox passes it to the Page Inbox, pass to targetAppID, take and
// request ask for it, release gives it up, owner returns the owning app id
// ("" for an idle thread). metadata is sent with inbox, pass, take and
// request. Only owner returns an app id.
func (api *SendAPI) Handover(ctx context.Context, e Endpoint, to adapters.Recipient, action, targetAppID, metadata string) (string, error) {
	b := acquireBuf()
	defer releaseBuf(b)
	body, method, path, err := api.RenderHandover(b.body[:0], e.Tokens, to, action, targetAppID, metadata)
	b.body = body
	if err != nil {
		return "", err
	}
	var owner string
	err = e.call(ctx, b, method, path, e.Tokens[to.BotID], "handover", func(v *fastjson.Value, status int) error {
		if action != "owner" {
			if !v.GetBool("success") {
				return &adapters.APIError{Class: adapters.ClassRequest, Code: "handover_refused",
					Message: "Graph answered without success:true", HTTPStatus: status}
			}
			return nil
		}
		// {"data":[{"thread_owner":{"app_id":"…"}}]}; the id may come as a
		// string or a number and is returned exactly as written.
		id := v.Get("data", "0", "thread_owner", "app_id")
		switch {
		case id == nil:
		case id.Type() == fastjson.TypeString:
			owner = string(id.GetStringBytes())
		case id.Type() == fastjson.TypeNumber:
			owner = id.String()
		default:
			return badResponse(status, "thread_owner.app_id is neither a string nor a number")
		}
		return nil
	})
	return owner, err
}

// call performs one Graph call of method on path with the body in b (sent
// for a POST), and hands the answer, which must be a JSON object, to read
// before the response is released; what names the call in errors. Send
// API calls go through e.Batch when it is on.
func (e *Endpoint) call(ctx context.Context, b *sendBuf, method, path, token, what string, read func(v *fastjson.Value, status int) error) error {
	if e.Batch.on() && method == fasthttp.MethodPost && path == PathMessages {
		status, body, hdr, alone, err := e.batched(ctx, b, token)
		switch {
		case err != nil:
			return err
		case !alone:
			if ae := Classify(status, body, hdr); ae != nil {
				return ae
			}
			return readAnswer(status, body, what, read)
		}
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	b.uri = e.appendURI(b.uri[:0], path, token)
	req.SetRequestURIBytes(b.uri)
	req.Header.SetMethod(method)
	if method == fasthttp.MethodPost {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(b.body)
	}
	if err := e.exchange(ctx, req, resp); err != nil {
		return err
	}
	return readAnswer(resp.StatusCode(), resp.Body(), what, read)
}

// readAnswer hands a successful answer, which must be a JSON object, to
// read.
func readAnswer(status int, body []byte, what string, read func(v *fastjson.Value, status int) error) error {
	p := respParsers.Get()
	defer respParsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeObject {
		return badResponse(status, what+" answer is not a JSON object")
	}
	return read(v, status)
}

// exchange performs one call and classifies the outcome: nil for a 2xx
// answer without a Graph error, else an *adapters.APIError.
func (e *Endpoint) exchange(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	var c Doer = defaultClient
	if e.Client != nil {
		c = e.Client
	}
	if err := adapters.Do(ctx, c, req, resp); err != nil {
		// fasthttp's errors name no URL, so the token cannot leak here.
		return adapters.NetworkError(err)
	}
	if ae := Classify(resp.StatusCode(), resp.Body(), &resp.Header); ae != nil {
		return ae
	}
	return nil
}

// badResponse is a 2xx answer we cannot read. The message may have gone
// out, but a duplicate is better than a silent loss: it is transient.
func badResponse(status int, msg string) *adapters.APIError {
	return &adapters.APIError{Class: adapters.ClassTransient, Code: "bad_response", Message: msg, HTTPStatus: status}
}

// appendURI appends APIBase + path + the access_token argument.
func (e *Endpoint) appendURI(dst []byte, path, token string) []byte {
	dst = append(dst, strings.TrimSuffix(e.APIBase, "/")...)
	dst = append(dst, path...)
	if strings.IndexByte(path, '?') >= 0 {
		dst = append(dst, "&access_token="...)
	} else {
		dst = append(dst, "?access_token="...)
	}
	for i := 0; i < len(token); i++ {
		if !unreserved(token[i]) {
			return fasthttp.AppendQuotedArg(dst, []byte(token))
		}
	}
	return append(dst, token...) // the usual token: nothing to escape
}

// sendBuf holds the body and URI of one call, and its body as a form when
// it is batched.
type sendBuf struct{ body, uri, form, scratch []byte }

var sendBufs = sync.Pool{New: func() any { return &sendBuf{body: make([]byte, 0, 1024), uri: make([]byte, 0, 256)} }}

func acquireBuf() *sendBuf { return sendBufs.Get().(*sendBuf) }

func releaseBuf(b *sendBuf) {
	if cap(b.body) > 64<<10 || cap(b.form) > 64<<10 || cap(b.scratch) > 64<<10 { // let an outsized body go
		return
	}
	sendBufs.Put(b)
}

var respParsers fastjson.ParserPool

// Tokens maps the configured accounts (Pages, IG accounts) to their
// access tokens: Endpoint.Tokens.
func Tokens(accounts []config.Account) map[string]string {
	m := make(map[string]string, len(accounts))
	for _, a := range accounts {
		m[a.ID] = a.AccessToken
	}
	return m
}
