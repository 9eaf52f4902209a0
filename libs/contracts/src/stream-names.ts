/** Stream ids come from these helpers only, so every service names streams the same way. */
const safeId = (id: string): string => {
  if (!/^[A-Za-z0-9_.:@-]{1,200}$/.test(id)) throw new TypeError(`invalid stream id part: ${JSON.stringify(id)}`);
  return id;
};
export const toEndpointStreamName = (id: string): string => `endpoint-${safeId(id)}`;
export const toGroupStreamName = (id: string): string => `group-${safeId(id)}`;
export const toPolicyStreamName = (id: string): string => `policy-${safeId(id)}`;
export const toWorkflowStreamName = (id: string): string => `workflow-${safeId(id)}`;
export const toCycleStreamName = (id: string): string => `cycle-${safeId(id)}`;
export const toRunStreamName = (cycleId: string, endpointId: string): string => `run-${safeId(cycleId)}.${safeId(endpointId)}`;
/** Category of a stream: the part before the first `-` (`cycle-42` → `cycle`). */
export const categoryOf = (stream: string): string => {
  const i = stream.indexOf('-');
  return i < 0 ? stream : stream.slice(0, i);
};
