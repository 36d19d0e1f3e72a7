package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes n into out and refuses keys that out does not
// declare, naming them by their full key path. yaml.v3's KnownFields works
// on a Decoder only, not on the Node decoding that typed connection
// sections need, and its messages name Go types rather than keys.
func decodeStrict(n *yaml.Node, out any, key string) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if err := checkKeys(n, reflect.TypeOf(out).Elem(), key); err != nil {
		return err
	}
	if err := n.Decode(out); err != nil {
		return fmt.Errorf("config: %s%s", prefixKey(key), typeErrorText(err))
	}
	return nil
}

func prefixKey(key string) string {
	if key == "" {
		return ""
	}
	return key + ": "
}

// typeErrorText keeps yaml's line numbers but drops the values it quotes,
// since a value may be an expanded secret.
func typeErrorText(err error) string {
	te, ok := err.(*yaml.TypeError)
	if !ok {
		return err.Error()
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if i := strings.Index(m, " `"); i >= 0 {
			if j := strings.LastIndex(m, "` "); j > i {
				m = m[:i] + " value" + m[j+1:]
			}
		}
		msgs = append(msgs, m)
	}
	return strings.Join(msgs, "; ")
}

// checkKeys walks a mapping node against the yaml tags of t.
func checkKeys(n *yaml.Node, t reflect.Type, key string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		if t == reflect.TypeOf(Connection{}) {
			fields = connectionFields(n)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("config: %s: unknown key (line %d)", joinKey(key, k), n.Content[i].Line)
			}
			if err := checkKeys(n.Content[i+1], ft, joinKey(key, k)); err != nil {
				return err
			}
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// yamlFields maps the yaml keys of struct t, inlined structs flattened, to
// their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// connectionFields is the key set of a connection: name, channel and the
// keys of the typed section its channel selects.
func connectionFields(n *yaml.Node) map[string]reflect.Type {
	var section reflect.Type
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "channel" {
			if s := newSection(n.Content[i+1].Value); s != nil {
				section = reflect.TypeOf(s).Elem()
			}
		}
	}
	m := map[string]reflect.Type{}
	if section != nil {
		m = yamlFields(section)
	}
	m["name"] = reflect.TypeOf("")
	m["channel"] = reflect.TypeOf("")
	return m
}

// newSection returns a new typed section for channel, or nil.
func newSection(channel string) any {
	switch channel {
	case ChannelMessenger:
		return new(Messenger)
	case ChannelInstagram:
		return new(Instagram)
	case ChannelWhatsApp:
		return new(WhatsApp)
	case ChannelTelegram:
		return new(Telegram)
	case ChannelViber:
		return new(Viber)
	case ChannelWeb:
		return new(Web)
	}
	return nil
}

// UnmarshalYAML reads name and channel, then the other keys into the
// typed section the channel selects. Unknown keys were refused before
// decoding by checkKeys; an unknown channel is left for Validate, which
// names the key.
func (c *Connection) UnmarshalYAML(n *yaml.Node) error {
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "name":
			c.Name = n.Content[i+1].Value
		case "channel":
			c.Channel = n.Content[i+1].Value
		default:
			rest.Content = append(rest.Content, n.Content[i], n.Content[i+1])
		}
	}
	section := newSection(c.Channel)
	if section == nil {
		return nil
	}
	switch s := section.(type) {
	case *Messenger:
		c.Messenger = s
	case *Instagram:
		c.Instagram = s
	case *WhatsApp:
		c.WhatsApp = s
	case *Telegram:
		c.Telegram = s
	case *Viber:
		c.Viber = s
	case *Web:
		c.Web = s
	}
	return rest.Decode(section)
}
