package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes n into out. Parse has run checkKeys first, so what
// is left to fail here is rare; its message still drops values.
func decodeStrict(n *yaml.Node, out any, key string) error {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
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

var durationType = reflect.TypeFor[time.Duration]()

// checkKeys walks n against the yaml tags of t, adding a problem for every
// key t does not declare and every value that does not fit its field, each
// named by its full key path. yaml.v3's KnownFields works on a Decoder
// only, not on the Node decoding that typed connection sections need, and
// its messages name Go types and quote values rather than name keys.
func checkKeys(n *yaml.Node, t reflect.Type, key string, problems *[]string) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkKeys(c, t, key, problems)
		}
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // the zero value: defaults apply
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func(msg string) {
		*problems = append(*problems, fmt.Sprintf("%s: %s (line %d)", keyName(key), msg, n.Line))
	}
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("must be a mapping")
			return
		}
		fields := yamlFields(t)
		if t == reflect.TypeFor[Connection]() {
			fields = connectionFields(n)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			ft, ok := fields[k]
			if !ok {
				if fields != nil {
					*problems = append(*problems, fmt.Sprintf("%s: unknown key (line %d)", joinKey(key, k), n.Content[i].Line))
				}
				continue
			}
			checkKeys(n.Content[i+1], ft, joinKey(key, k), problems)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad("must be a mapping")
		}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		if n.Kind != yaml.SequenceNode {
			bad("must be a list")
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", key, i), problems)
		}
	default:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			bad("must be " + describe(t))
		}
	}
}

// describe names what a scalar of type t must look like.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int64:
		if t == durationType {
			return "a duration such as 5s or 1m30s"
		}
		return "an integer"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a single value"
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
// keys of the typed section its channel selects. With no known channel it
// is nil, so that Validate reports the channel rather than every other key
// as unknown.
func connectionFields(n *yaml.Node) map[string]reflect.Type {
	var section reflect.Type
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "channel" {
			if s := newSection(n.Content[i+1].Value); s != nil {
				section = reflect.TypeOf(s).Elem()
			}
		}
	}
	if section == nil {
		return nil
	}
	m := yamlFields(section)
	m["name"] = reflect.TypeFor[string]()
	m["channel"] = reflect.TypeFor[string]()
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
