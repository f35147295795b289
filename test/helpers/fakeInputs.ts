import { Inputs, type AgentSource } from '../../tasks/common/inputs';

/** A service connection as a test describes it: URL, scheme, authorization and data parameters. */
export interface FakeEndpoint {
  url?: string;
  scheme?: string;
  auth?: Record<string, string>;
  data?: Record<string, string>;
}

/** Task inputs backed by plain maps, for testing option reading without the agent (parameter keys ignore case, as the agent's do). */
export function fakeInputs(values: Record<string, string>, endpoints: Record<string, FakeEndpoint> = {}, variables: Record<string, string> = {}): Inputs {
  const ci = (o: Record<string, string> | undefined, k: string) => Object.entries(o ?? {}).find(([key]) => key.toLowerCase() === k.toLowerCase())?.[1];
  const source: AgentSource = {
    input: (n) => values[n],
    variable: (n) => variables[n],
    endpointUrl: (id) => endpoints[id]?.url,
    endpointScheme: (id) => endpoints[id]?.scheme,
    endpointAuthParameter: (id, k) => ci(endpoints[id]?.auth, k),
    endpointDataParameter: (id, k) => ci(endpoints[id]?.data, k),
    filePathSupplied: (n) => Boolean(values[n]),
  };
  return new Inputs(source);
}
