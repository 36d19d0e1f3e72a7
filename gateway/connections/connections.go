// Package connections builds the channel adapters of the configured
// connections. It is the one place that lists the adapters: adding a
// channel means adding a case here, not an init() registration.
package connections

import (
	"fmt"
	"strings"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/instagram"
	"github.com/switchboard-gw/switchboard/adapters/messenger"
	"github.com/switchboard-gw/switchboard/adapters/telegram"
	"github.com/switchboard-gw/switchboard/adapters/viber"
	"github.com/switchboard-gw/switchboard/adapters/web"
	"github.com/switchboard-gw/switchboard/adapters/whatsapp"
	"github.com/switchboard-gw/switchboard/config"
)

// Conn is one configured connection and what its adapter can do. Optional
// abilities are nil when the channel lacks them.
type Conn struct {
	Name    string
	Channel string
	Inbound adapters.Inbound
	// Handshaker answers GET verification (Meta's hub.challenge).
	Handshaker adapters.Handshaker
	// Outbound sends replies; Handover runs Messenger's handover protocol.
	Outbound adapters.Outbound
	Handover adapters.Handover
	// Bots are the channel-side bot ids it serves (DESIGN §2).
	Bots []string
}

// Set is the connections by name and by the bot ids they serve.
type Set struct {
	byName map[string]*Conn
	byBot  map[string][]*Conn
	list   []*Conn
}

// Build makes the adapter of every connection in c.
func Build(c *config.Config) (*Set, error) {
	list := make([]*Conn, 0, len(c.Connections))
	for i := range c.Connections {
		cc := &c.Connections[i]
		conn := &Conn{Name: cc.Name, Channel: cc.Channel, Bots: botIDs(cc)}
		var a any
		switch {
		case cc.Messenger != nil:
			a = messenger.New(cc.Name, cc.Messenger)
		case cc.Instagram != nil:
			a = instagram.New(cc.Name, cc.Instagram)
		case cc.Telegram != nil:
			a = telegram.New(cc.Name, cc.Telegram)
		case cc.WhatsApp != nil:
			a = whatsapp.New(cc.Name, cc.WhatsApp)
		case cc.Viber != nil:
			a = viber.New(cc.Name, cc.Viber)
		case cc.Web != nil:
			// Its Transport (history, live streams) is plugged in by
			// gateway/webchat; it takes no webhooks.
			a = web.New(cc.Name, cc.Web)
		default:
			return nil, fmt.Errorf("connections[%d] (%s): channel %s is not supported yet", i, cc.Name, cc.Channel)
		}
		conn.Inbound, _ = a.(adapters.Inbound)
		conn.Handshaker, _ = a.(adapters.Handshaker)
		conn.Outbound, _ = a.(adapters.Outbound)
		conn.Handover, _ = a.(adapters.Handover)
		list = append(list, conn)
	}
	return NewSet(list...), nil
}

// NewSet indexes conns by name and bot id. Build uses it; tests use it to
// serve fake adapters.
func NewSet(conns ...*Conn) *Set {
	s := &Set{byName: make(map[string]*Conn, len(conns)), byBot: map[string][]*Conn{}, list: conns}
	for _, c := range conns {
		s.byName[c.Name] = c
		for _, bot := range c.Bots {
			s.byBot[bot] = append(s.byBot[bot], c)
		}
	}
	return s
}

// Get returns the connection named name, or nil.
func (s *Set) Get(name string) *Conn { return s.byName[name] }

// All returns the connections in config order.
func (s *Set) All() []*Conn { return s.list }

// ByBot returns the connections serving bot id bot.
func (s *Set) ByBot(bot string) []*Conn { return s.byBot[bot] }

// botIDs lists the channel-side bot ids a connection serves (DESIGN §2).
func botIDs(c *config.Connection) []string {
	var ids []string
	add := func(as []config.Account) {
		for _, a := range as {
			ids = append(ids, a.ID)
		}
	}
	switch {
	case c.Messenger != nil:
		add(c.Messenger.Pages)
	case c.Instagram != nil:
		add(c.Instagram.Accounts)
	case c.WhatsApp != nil:
		add(c.WhatsApp.PhoneNumbers)
	case c.Telegram != nil:
		id, _, _ := strings.Cut(c.Telegram.Token, ":")
		ids = append(ids, id)
	case c.Viber != nil:
		ids = append(ids, c.Viber.BotID)
	case c.Web != nil:
		ids = append(ids, c.Web.BotID)
	}
	return ids
}
