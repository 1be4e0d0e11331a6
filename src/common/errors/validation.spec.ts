import { Type } from 'class-transformer';
import { ArrayMinSize, IsArray, IsInt, IsOptional, IsPositive, IsString, Length, ValidateNested } from 'class-validator';
import { AppError, type FieldError } from './app-error.js';
import { createValidationPipe } from './validation.js';

class AddressDto {
  @IsString()
  city: string;
}

class LineDto {
  @IsString()
  @Length(1, 200)
  description: string;

  @IsInt()
  @IsPositive()
  quantity: number;
}

class InvoiceDto {
  @IsString()
  @Length(1, 100)
  customerName: string;

  @IsArray()
  @ArrayMinSize(1)
  @ValidateNested({ each: true })
  @Type(() => LineDto)
  lines: LineDto[];

  @IsOptional()
  @ValidateNested()
  @Type(() => AddressDto)
  address?: AddressDto;

  @IsOptional()
  @IsString({ each: true })
  tags?: string[];
}

const validBody = (): Record<string, unknown> => ({
  customerName: 'Acme B.V.',
  lines: [
    { description: 'Boiler service', quantity: 1 },
    { description: 'Valve', quantity: 3 },
  ],
});

async function validate(body: unknown): Promise<unknown> {
  return createValidationPipe().transform(body, { type: 'body', metatype: InvoiceDto });
}

/** Runs the pipe expecting it to refuse `body`; returns the AppError it threw. */
async function refusal(body: unknown): Promise<AppError> {
  try {
    await validate(body);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected the body to be refused');
}

/** The distinct field paths reported (one field may fail several constraints). */
const fields = (error: AppError): string[] => [...new Set((error.errors ?? []).map((item) => item.field))];
const errorsFor = (error: AppError, field: string): FieldError[] => (error.errors ?? []).filter((item) => item.field === field);

describe('createValidationPipe', () => {
  it('passes a valid body through, transformed into the DTO classes', async () => {
    const body = validBody();
    const result = await validate(body);
    expect(result).toBeInstanceOf(InvoiceDto);
    const dto = result as InvoiceDto;
    expect(dto.customerName).toBe('Acme B.V.');
    expect(dto.lines).toHaveLength(2);
    for (const line of dto.lines) expect(line).toBeInstanceOf(LineDto);
    expect(dto.lines[1]).toMatchObject({ description: 'Valve', quantity: 3 });
  });

  it('refuses an invalid body with a 400 validation_failed AppError', async () => {
    const error = await refusal({ ...validBody(), customerName: 42 });
    expect(error.status).toBe(400);
    expect(error.code).toBe('validation_failed');
    expect(fields(error)).toEqual(['customerName']);
    expect(error.detail).toContain('customerName');
  });

  it('names a nested array element by its JSON path, e.g. lines[1].quantity', async () => {
    const body = validBody();
    body.lines = [
      { description: 'Boiler service', quantity: 1 },
      { description: 'Valve', quantity: -2 },
    ];
    const error = await refusal(body);
    expect(fields(error)).toEqual(['lines[1].quantity']);
    const [quantity] = errorsFor(error, 'lines[1].quantity');
    expect(quantity.message).toContain('lines[1].quantity');
    expect(quantity.code).toBeTruthy();
    expect(error.detail).toContain('lines[1].quantity');
  });

  it('reports every invalid field at once, each with its own path', async () => {
    const error = await refusal({
      customerName: '',
      lines: [
        { description: '', quantity: 1 },
        { description: 'ok', quantity: 1.5 },
      ],
      address: { city: 7 },
    });
    expect(fields(error).sort()).toEqual(['address.city', 'customerName', 'lines[0].description', 'lines[1].quantity']);
  });

  it('names an element of a list of primitives', async () => {
    const error = await refusal({ ...validBody(), tags: ['ok', 3] });
    expect(fields(error)).toEqual(['tags']);
    expect(error.errors?.[0].message).toContain('tags');
  });

  it('refuses a missing required list and an empty one', async () => {
    expect(fields(await refusal({ customerName: 'Acme' }))).toContain('lines');
    expect(fields(await refusal({ customerName: 'Acme', lines: [] }))).toContain('lines');
  });

  it('refuses a property that is not in the DTO as unknown_property, rather than dropping it', async () => {
    const error = await refusal({ ...validBody(), isAdmin: true });
    expect(error.status).toBe(400);
    expect(error.code).toBe('validation_failed');
    expect(errorsFor(error, 'isAdmin')).toEqual([expect.objectContaining({ field: 'isAdmin', code: 'unknown_property' })]);
  });

  it('refuses unknown properties inside nested objects and array elements, with their paths', async () => {
    const body = validBody();
    body.lines = [
      { description: 'Boiler service', quantity: 1 },
      { description: 'Valve', quantity: 3, unitPrice: 0 },
    ];
    body.address = { city: 'Utrecht', country: 'NL' };
    const error = await refusal(body);
    expect(errorsFor(error, 'lines[1].unitPrice')).toEqual([expect.objectContaining({ code: 'unknown_property' })]);
    expect(errorsFor(error, 'address.country')).toEqual([expect.objectContaining({ code: 'unknown_property' })]);
    expect(errorsFor(error, 'lines[1].unitPrice')[0].message).toContain('lines[1].unitPrice');
  });

  it('does not convert types implicitly: a numeric string is not a number', async () => {
    const body = validBody();
    body.lines = [{ description: 'Valve', quantity: '3' }];
    expect(fields(await refusal(body))).toEqual(['lines[0].quantity']);
  });

  it('does not send the submitted values back in the errors', async () => {
    const secretish = 'sk_live_do_not_echo_this_value';
    const error = await refusal({ ...validBody(), customerName: { nested: secretish } });
    expect(JSON.stringify({ detail: error.detail, errors: error.errors })).not.toContain(secretish);
  });
});
