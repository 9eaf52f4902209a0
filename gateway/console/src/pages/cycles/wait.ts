import { graphql } from '../../gql';
import { request } from '../../api/client';

const CycleExistsQuery = graphql(`
  query CycleExists($id: ID!) {
    cycle(id: $id) {
      id
      status
    }
  }
`);

/** A requested cycle reaches the read model shortly after the command: wait (up to ~10 s) for it. */
export async function waitForCycle(id: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const r = await request(CycleExistsQuery, { id }).catch(() => undefined);
    if (r?.cycle) return;
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** The cycle's status in the read model (undefined when it is not there). */
export async function cycleStatus(id: string): Promise<string | undefined> {
  return (await request(CycleExistsQuery, { id })).cycle?.status;
}
