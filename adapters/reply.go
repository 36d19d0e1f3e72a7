package adapters

import "github.com/switchboard-gw/switchboard/normalize"

// ExpandedReply is scratch space for a copy of a reply with its shorthand
// expanded (normalize.Reply.Expand), so that Render never modifies the
// caller's reply. Kept in a renderer that is pooled, it lets a warm render
// copy without allocating. The zero value is ready to use; it is not safe
// for concurrent use.
type ExpandedReply struct {
	reply normalize.Reply
	media normalize.Media
	qrs   []normalize.QuickReply
	btns  []normalize.Button
	cards []normalize.Card
}

// Expand copies r, its quick replies, buttons, cards and media with their
// buttons included, expands the shorthand on the copy and returns it. The
// copy is valid until the next Expand or Reset; r is left as it was.
func (x *ExpandedReply) Expand(r *normalize.Reply) *normalize.Reply {
	x.reply = *r
	x.qrs = append(x.qrs[:0], r.QuickReplies...)
	x.reply.QuickReplies = x.qrs

	n := len(r.Buttons)
	for i := range r.Cards {
		n += len(r.Cards[i].Buttons)
	}
	if r.Media != nil {
		n += len(r.Media.Buttons)
	}
	if cap(x.btns) < n {
		x.btns = make([]normalize.Button, 0, n)
	}
	x.btns = x.btns[:0]
	x.reply.Buttons = x.copyButtons(r.Buttons)
	x.cards = append(x.cards[:0], r.Cards...)
	x.reply.Cards = x.cards
	for i := range x.cards {
		x.cards[i].Buttons = x.copyButtons(r.Cards[i].Buttons)
	}
	if r.Media != nil {
		x.media = *r.Media
		x.media.Buttons = x.copyButtons(r.Media.Buttons)
		x.reply.Media = &x.media
	}
	x.reply.Expand()
	return &x.reply
}

// copyButtons appends bs to x.btns, whose capacity Expand reserved, so
// earlier copies are never moved.
func (x *ExpandedReply) copyButtons(bs []normalize.Button) []normalize.Button {
	start := len(x.btns)
	x.btns = append(x.btns, bs...)
	return x.btns[start:len(x.btns):len(x.btns)]
}

// Reset drops every reference to the last reply's strings, keeping the
// storage, before x goes back to a pool.
func (x *ExpandedReply) Reset() {
	x.reply, x.media = normalize.Reply{}, normalize.Media{}
	clear(x.qrs)
	clear(x.btns)
	clear(x.cards)
	x.qrs, x.btns, x.cards = x.qrs[:0], x.btns[:0], x.cards[:0]
}
