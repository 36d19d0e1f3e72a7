// Package config is Switchboard's typed configuration (DESIGN §8): the YAML
// file, ${ENV} expansion inside its values, defaults, and validation whose
// errors name the offending key (connections[2].app_secret: required) and
// never echo a value, since values may be secrets.
//
// Each channel has its own typed section; a connection's `channel` key
// selects which one its other keys are read into, and keys that section
// does not know are refused.
package config
