import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finalFormat, isJSONFormat, isTableFormat, parseFormat, renderRows } from './formatter.ts';
import { goType } from './go-fmt.ts';

// A `docker context ls` row and header map: every expectation below is what
// the docker 28 CLI printed for the same --format.
const ctxRow = {
  Name: () => 'default',
  Current: () => true,
  Description: () => 'Current DOCKER_HOST based configuration',
  DockerEndpoint: () => 'unix:///var/run/docker.sock',
  Error: () => '',
};
const ctxHeader = { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR' };
const ctx = (f: string) => renderRows(f, [ctxRow], ctxHeader, { typeName: '*formatter.clientContextContext' });

test('table formats render header + rows through the tabwriter', () => {
  assert.equal(
    ctx('table {{.Name}}\\t{{.Description}}\\t{{.DockerEndpoint}}\\t{{.Error}}'),
    'NAME      DESCRIPTION                               DOCKER ENDPOINT               ERROR\n' +
      'default   Current DOCKER_HOST based configuration   unix:///var/run/docker.sock   \n',
  );
  assert.equal(ctx('table {{"a"}}\\t{{"b"}}'), 'a         b\na         b\n');
  // Real tab characters work as well as the two-character \t.
  assert.equal(ctx('table {{.Name}}\t{{.Error}}\t{{.Name}}'), 'NAME      ERROR     NAME\ndefault             default\n');
});

test('a field missing from the header map prints <no value> in the header', () => {
  assert.equal(
    ctx('table {{.Name}}\\t{{.Current}}\\t{{.DockerEndpoint}}'),
    'NAME      <no value>   DOCKER ENDPOINT\ndefault   true         unix:///var/run/docker.sock\n',
  );
  assert.equal(ctx('table {{.Name}}\\t{{if .Current}}cur{{end}}\\t{{with .Description}}{{.}}{{end}}'), 'NAME                DESCRIPTION\ndefault   cur       Current DOCKER_HOST based configuration\n');
});

test('header functions keep titles; pad still pads; a failing header keeps its start', () => {
  assert.equal(
    ctx('table {{.Name}}\\t{{json .Name}}\\t{{upper .Name}}\\t{{pad .Name 2 2}}|{{split .Name "a"}}|{{truncate .Name 3}}|{{.Name|printf "%5.2s"}}'),
    'NAME      NAME        NAME        NAME  |NAME|NAME|   NA\n' +
      'default   "default"   DEFAULT     default  |[def ult]|def|   de\n',
  );
  assert.equal(
    ctx('table {{.Name}}\\t{{json .}}\\t{{.Name}}'),
    'NAME      \n' +
      'default   {"Current":true,"Description":"Current DOCKER_HOST based configuration","DockerEndpoint":"unix:///var/run/docker.sock","Error":"","Name":"default"}   default\n',
  );
});

test('non-table formats: one line per row, no header, spaces trimmed, \\n expanded', () => {
  assert.equal(ctx(' {{.Name}}  '), 'default\n');
  assert.equal(ctx('{{.Name}}\\n'), 'default\n\n');
  assert.equal(ctx(' table {{.Name}}'), 'table default\n');
  assert.equal(ctx('tableX{{.Name}}'), 'XNAME\nXdefault\n');
  assert.equal(ctx('table   {{.Name}}  \\n'), 'NAME  \n\ndefault  \n\n');
});

test('json format', () => {
  const json = '{"Current":true,"Description":"Current DOCKER_HOST based configuration","DockerEndpoint":"unix:///var/run/docker.sock","Error":"","Name":"default"}\n';
  assert.equal(ctx('json'), json);
  assert.equal(ctx('{{json .}}'), json);
  assert.equal(ctx('table {{json .}}'), '\n' + json);
});

test('errors are "template parsing error: ..." and print nothing', () => {
  assert.throws(() => ctx('table {{.Name}}\\t{{.Foo}}'), {
    message: 'template parsing error: template: :1:12: executing "" at <.Foo>: can\'t evaluate field Foo in type *formatter.clientContextContext',
  });
  assert.throws(() => ctx('{{.Name.Foo}}'), {
    message: 'template parsing error: template: :1:7: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string',
  });
  assert.throws(() => ctx('{{.Name'), { message: 'template parsing error: template: :1: unclosed action' });
  assert.throws(() => ctx('{{range .Name}}{{end}}'), {
    message: 'template parsing error: template: :1:8: executing "" at <.Name>: range can\'t iterate over default',
  });
  assert.throws(() => parseFormat('{{'), { message: 'template parsing error: template: :1: unclosed action' });
});

test('header is printed even when there are no rows', () => {
  const header = { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', RunningFor: 'CREATED', Status: 'STATUS', Ports: 'PORTS', Names: 'NAMES' };
  assert.equal(
    renderRows('table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}', [], header),
    'CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n',
  );
  assert.equal(renderRows('table {{.ID}}\\t{{.Names}}', [], { ID: 'CONTAINER ID', Names: 'NAMES' }), 'CONTAINER ID   NAMES\n');
  assert.equal(renderRows('{{.ID}}', [], { ID: 'CONTAINER ID' }), '');
});

test('rows with string properties and methods with arguments', () => {
  const rows = [
    { ID: 'abc', Names: 'web', Label: (k: string) => (k === 'tier' ? 'front' : '') },
    { ID: 'defghijklmnop', Names: 'db', Label: (k: string) => (k === 'tier' ? 'back' : '') },
  ];
  const header = { ID: 'CONTAINER ID', Names: 'NAMES' };
  assert.equal(
    renderRows('table {{.ID}}\\t{{.Names}}\\t{{.Label "tier"}}', rows, header),
    // The header stops at {{.Label "tier"}} (a map value takes no arguments),
    // leaving "NAMES" tab-terminated, hence padded.
    'CONTAINER ID    NAMES     \nabc             web       front\ndefghijklmnop   db        back\n',
  );
  assert.equal(renderRows('{{.Names}}={{.Label "tier"}}', rows, header), 'web=front\ndb=back\n');
  // json of a row: keys sorted, argument-less methods called, others skipped.
  assert.equal(renderRows('json', rows, header), '{"ID":"abc","Names":"web"}\n{"ID":"defghijklmnop","Names":"db"}\n');
  // A row's own goType wins over the default type name in errors.
  assert.throws(() => renderRows('{{.X}}', [{ [goType]: '*formatter.imageContext', ID: 'x' }], {}), /in type \*formatter\.imageContext$/);
  assert.throws(() => renderRows('{{.X}}', [{ ID: 'x' }], {}, { typeName: '*formatter.ContainerContext' }), /in type \*formatter\.ContainerContext$/);
});

test('format helpers', () => {
  assert.ok(isTableFormat('table'));
  assert.ok(isTableFormat('table {{.ID}}'));
  assert.ok(isTableFormat('tablefoo'));
  assert.ok(!isTableFormat(' table'));
  assert.ok(isJSONFormat('json'));
  assert.ok(!isJSONFormat('json '));
  assert.equal(finalFormat('table {{.ID}}\\t{{.Names}}\\n'), '{{.ID}}\t{{.Names}}\n');
  assert.equal(finalFormat('json'), '{{json .}}');
  assert.equal(finalFormat('  {{.ID}} \t'), '{{.ID}} \t');
  assert.equal(finalFormat('table'), '');
});

test('class rows with private state work through the context wrapper', () => {
  class Row {
    #id: string;
    constructor(id: string) {
      this.#id = id;
    }
    get ID(): string {
      return this.#id;
    }
    Short(n: number): string {
      return this.#id.slice(0, n);
    }
  }
  const rows = [new Row('0123456789abcdef')];
  assert.equal(renderRows('{{.ID}} {{.Short 4}}', rows, {}), '0123456789abcdef 0123\n');
  assert.equal(renderRows('json', rows, {}), '{"ID":"0123456789abcdef"}\n');
  assert.equal(renderRows('table {{.ID}}\\t{{.Short 3}}', rows, { ID: 'CONTAINER ID' }), 'CONTAINER ID       \n0123456789abcdef   012\n');
});
