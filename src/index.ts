/** Public API of tsvs: the engine, its parts, and the control client. */
export * from './engine/constants.js';
export * from './engine/addr.js';
export * from './engine/service.js';
export * from './engine/stats.js';
export * from './engine/settings.js';
export * from './engine/errors.js';
export * from './engine/drop.js';
export {
  Engine,
  PacketResult,
  PKT_GSO,
  PKT_CSUM_PARTIAL,
  PKT_LOCAL,
  PKT_CSUM_OK,
  TUNNEL_HEADROOM,
  type EngineOptions,
  type ServiceKey,
  type ServiceOptions,
  type DestOptions,
  type ConnInfo,
} from './engine/engine.js';
export * from './engine/sched/types.js';
export * from './engine/sched/registry.js';
export { registerBuiltinSchedulers } from './engine/sched/index.js';
export * from './engine/app/types.js';
export { registerFtp, createFtpHelper } from './engine/app/index.js';
export { PacketView, ParseError, parseErrorName } from './wire/packet.js';
export { describe as describePacket } from './wire/describe.js';
export { ControlClient, controlPath } from './control/client.js';
export type * from './control/protocol.js';
