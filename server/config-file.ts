// Reads the platform config file (YAML or JSON) and validates it; errors name the field.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError, parsePlatformConfig, type PlatformConfig } from '../policy/config.js';

export function loadPlatformConfig(path: string | undefined): PlatformConfig {
  if (!path) return parsePlatformConfig({});
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError('(file)', `${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return parsePlatformConfig(raw);
}
